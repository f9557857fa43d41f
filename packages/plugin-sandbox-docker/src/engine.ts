import { basename } from "node:path";
import { execa } from "execa";
import { findProgram } from "@reprise/core/sandbox-kit";

/** A container engine's command line found to work here. */
export interface ContainerEngine {
  /** Absolute path of the program. */
  path: string;
  kind: "podman" | "docker";
  /** The engine's version (the server's for docker). */
  version: string;
  /** Arguments placed before every subcommand (podman's `--runtime`, configured `globalArgs`). */
  globalArgs: string[];
  /** OCI runtime for docker's `run --runtime` (podman takes it as a global argument). */
  runtime?: string;
}

/** The programs `engine: "auto"` tries, in order. */
export const AUTO_ORDER = ["docker", "podman"] as const;

/**
 * Finds the engine: the configured program, or (auto) docker and then
 * podman. A candidate must answer `version` (docker's client answers only
 * when its daemon does; a docker client without a daemon is skipped) and
 * pass `check` (the sandbox runs a container with a job's flags). A string
 * says why none can be used, naming every candidate's problem.
 */
export async function findEngine(
  choice: string,
  opts: { runtime?: string; globalArgs?: string[] },
  check?: (engine: ContainerEngine) => Promise<string | undefined>,
): Promise<ContainerEngine | string> {
  const auto = choice === "auto";
  const candidates = auto ? [...AUTO_ORDER] : [choice];
  const problems: string[] = [];
  for (const name of candidates) {
    const path = findProgram(name);
    if (!path) {
      problems.push(auto ? `${name} is not installed` : `${name} not found`);
      continue;
    }
    const engine = await identify(path, opts);
    if (typeof engine === "string") {
      problems.push(engine);
      continue;
    }
    const problem = check ? await check(engine) : undefined;
    if (problem === undefined) return engine;
    problems.push(`${path} (${engine.kind} ${engine.version}): ${problem}`);
  }
  return problems.join("; ") + (auto ? " (start docker's daemon, or apt-get install podman runc)" : "");
}

async function identify(path: string, opts: { runtime?: string; globalArgs?: string[] }): Promise<ContainerEngine | string> {
  const globalArgs = opts.globalArgs ?? [];
  const v = await execa(path, [...globalArgs, "version"], { reject: false, timeout: 20_000, stdin: "ignore", env: { LC_ALL: "C" } });
  const out = String(v.stdout);
  if (v.exitCode !== 0 || v.timedOut) {
    return `${path} version failed: ${firstLines(String(v.stderr) || out) || `exit status ${String(v.exitCode)}`}`;
  }
  // The command line decides the syntax, not the engine behind it (docker's client may talk to a
  // podman service; podman's docker shim is podman): podman's client section names it, docker's does not.
  const isPodman = /^Client:\s*Podman/m.test(out) || !/^Client:/m.test(out) || basename(path).startsWith("podman");
  // docker prints the client's section, then the server's (engine first, then containerd, runc, …): take the engine's
  const server = out.indexOf("\nServer:");
  const version = /^\s*Version:\s*(\S+)/m.exec(server >= 0 ? out.slice(server) : out)?.[1] ?? "unknown";
  if (isPodman) {
    const rt = opts.runtime ?? (findProgram("runc") ? "runc" : undefined);
    return { path, kind: "podman", version, globalArgs: [...globalArgs, ...(rt ? ["--runtime", rt] : [])] };
  }
  return { path, kind: "docker", version, globalArgs, ...(opts.runtime ? { runtime: opts.runtime } : {}) };
}

export interface CommandResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs an engine subcommand (global arguments first) to its end; never rejects. */
export async function engineCommand(
  engine: ContainerEngine,
  args: string[],
  options: { timeout?: number; env?: Record<string, string>; input?: NodeJS.ReadableStream } = {},
): Promise<CommandResult> {
  const child = execa(engine.path, [...engine.globalArgs, ...args], {
    reject: false,
    stdin: options.input ? "pipe" : "ignore",
    timeout: options.timeout ?? 60_000,
    ...(options.env ? { env: options.env } : {}),
  });
  if (options.input) {
    child.stdin?.on("error", () => {
      // the engine stopped reading: its exit status says why
    });
    // a stream that fails ends the engine's input early: the engine then fails on a truncated stream
    options.input.on("error", () => child.stdin?.destroy());
    options.input.pipe(child.stdin!);
  }
  const r = await child;
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), timedOut: r.timedOut };
}

export function firstLines(text: string): string {
  return text.trim().split("\n").slice(0, 3).join(" ").slice(0, 400);
}
