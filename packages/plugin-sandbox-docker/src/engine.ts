import { basename } from "node:path";
import { execa } from "execa";
import { findProgram } from "@reprise/plugin-sandbox-bwrap/layout";

/** A container engine's command line found to work here. */
export interface ContainerEngine {
  /** Absolute path of the program. */
  path: string;
  kind: "podman" | "docker";
  version: string;
  /** Arguments placed before the subcommand (podman's `--runtime`). */
  globalArgs: string[];
  /** Arguments of `run` particular to this engine (runtime for docker, podman's extra isolation flags). */
  runArgs: string[];
}

/**
 * Finds the engine: the configured program, or (auto) podman and then docker,
 * the first that answers `version` (docker's client answers only when its
 * daemon does). A string says why none can be used.
 */
export async function findEngine(engine: string, runtime: string | undefined): Promise<ContainerEngine | string> {
  const candidates = engine === "auto" ? ["podman", "docker"] : [engine];
  const problems: string[] = [];
  for (const name of candidates) {
    const path = findProgram(name);
    if (!path) {
      problems.push(engine === "auto" ? `${name} is not installed` : `${name} not found`);
      continue;
    }
    const v = await execa(path, ["version"], { reject: false, timeout: 20_000, stdin: "ignore" });
    const text = `${String(v.stdout)}\n${String(v.stderr)}`;
    if (v.exitCode !== 0 || v.timedOut) {
      problems.push(`${path} version failed: ${firstLines(String(v.stderr) || String(v.stdout)) || `exit status ${v.exitCode}`}`);
      continue;
    }
    const isPodman = /podman/i.test(text) || basename(path).startsWith("podman");
    const version = /Version:\s*(\S+)/.exec(text)?.[1] ?? "unknown";
    if (isPodman) {
      const rt = runtime ?? (findProgram("runc") ? "runc" : undefined);
      return {
        path,
        kind: "podman",
        version,
        globalArgs: rt ? ["--runtime", rt] : [],
        // no writable tmpfs besides our /tmp, no host names, none of podman's default variables
        runArgs: ["--read-only-tmpfs=false", "--no-hosts", "--unsetenv-all", "--log-driver", "none"],
      };
    }
    return { path, kind: "docker", version, globalArgs: [], runArgs: [...(runtime ? ["--runtime", runtime] : []), "--log-driver", "none"] };
  }
  return problems.join("; ") + (engine === "auto" ? " (apt-get install podman runc)" : "");
}

function firstLines(text: string): string {
  return text.trim().split("\n").slice(0, 3).join(" ").slice(0, 400);
}
