import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { expect } from "vitest";
import { REPRISE_LAUNCHER, text, type RepriseSandbox, type StatsJson } from "./reprise-env.js";
import { cargoEnv, rustcArtifacts, type Artifact } from "./rust-workspace.js";
import { REPO_ROOT } from "./reprise-env.js";

/**
 * The workspace of the Rust job tests (test-fixtures/rust-jobs-workspace):
 * `base` (include_str!, env!, option_env!), `mid` (uses base), `describe` (a
 * derive macro on proc_macro alone), `app` (uses mid, and base only through
 * it, so rustc finds base in `-L dependency=`; the derive; a build script's
 * OUT_DIR file through include!), `tool` (a program). Path dependencies only.
 */
export const JOBS_WORKSPACE = join(REPO_ROOT, "test-fixtures/rust-jobs-workspace");

/** Crates that are libraries (jobs) and those linked (local), as cargo names them. */
export const LIBRARY_CRATES = ["app", "base", "mid"];
export const LINKED_CRATES = ["build_script_build", "describe", "tool"];

/** A plain build's results, for builds through Reprise to equal. */
export interface PlainReference {
  artifacts: Map<string, Artifact>;
  /** cargo's timing-free messages (cargoMessages). */
  messages: string[];
  /** What the built `tool` prints. */
  run: string;
}

export class RustJobsWorkspace {
  readonly dir: string;
  readonly cargoHome: string;

  constructor(
    private readonly sb: RepriseSandbox,
    private readonly cargo: string,
    name = "ws",
  ) {
    this.dir = join(sb.root, name);
    this.cargoHome = join(sb.root, `${name}-cargo-home`);
    cpSync(JOBS_WORKSPACE, this.dir, { recursive: true });
    mkdirSync(this.cargoHome, { recursive: true });
  }

  async cargoRun(args: string[], opts: { wrapper?: boolean; env?: Record<string, string> } = {}) {
    const env = cargoEnv(this.cargo, this.cargoHome, { ...this.sb.env(), ...(opts.wrapper ? { RUSTC_WRAPPER: REPRISE_LAUNCHER } : {}), ...opts.env });
    const r = await execa(this.cargo, args, { cwd: this.dir, env, extendEnv: false, reject: false, all: true, timeout: 600_000 });
    if (r.exitCode !== 0) throw new Error(`cargo ${args.join(" ")} failed (${r.exitCode}):\n${r.all}`);
    return { stderr: text(r.stderr), all: text(r.all) };
  }

  /** `cargo clean && cargo build`, at the same path every time (rustc writes paths into its outputs). */
  async cleanBuild(opts: { wrapper?: boolean; env?: Record<string, string> } = {}) {
    await this.cargoRun(["clean", "-q"], opts);
    return this.cargoRun(["build", "--message-format=json"], opts);
  }

  /** A plain `cargo clean && cargo build` (no Reprise) as the reference, with `opts`. */
  async plainReference(opts: { env?: Record<string, string> } = {}): Promise<PlainReference> {
    const plain = await this.cleanBuild(opts);
    return { artifacts: this.artifacts(), messages: cargoMessages(plain.all), run: await this.runTool() };
  }

  /** Zeroes the sandbox's stats, then `cargo clean && cargo build` through Reprise with `env`: cargo's output and the stats after. */
  async cleanBuildThroughReprise(env: Record<string, string>): Promise<{ built: { stderr: string; all: string }; stats: StatsJson }> {
    await this.sb.zeroStats();
    const built = await this.cleanBuild({ wrapper: true, env });
    return { built, stats: await this.sb.stats() };
  }

  /** Expects the build whose cargo output is `built` to equal `reference`: every artifact byte for byte, cargo's messages, the tool's output. */
  async expectSameAs(reference: PlainReference, built: { all: string }, label: string): Promise<void> {
    expectSameArtifacts(this.artifacts(), reference.artifacts, label);
    expect(cargoMessages(built.all)).toEqual(reference.messages);
    expect(await this.runTool()).toBe(reference.run);
  }

  /** rustc's outputs under target/debug, and under target/<triple>/debug when given. */
  artifacts(triple?: string): Map<string, Artifact> {
    const host = rustcArtifacts(join(this.dir, "target/debug"));
    if (!triple) return host;
    const cross = [...rustcArtifacts(join(this.dir, "target", triple, "debug"))].map(([k, v]) => [`${triple}/${k}`, v] as const);
    return new Map([...host, ...cross]);
  }

  async runTool(): Promise<string> {
    const r = await execa(join(this.dir, "target/debug/tool"), ["x", "y"], { reject: false });
    expect(r.exitCode).toBe(0);
    return r.stdout;
  }
}

export function expectSameArtifacts(got: Map<string, Artifact>, reference: Map<string, Artifact>, label: string): void {
  expect([...got.keys()].sort(), `${label}: same files`).toEqual([...reference.keys()].sort());
  const differing = [...reference].filter(([name, a]) => !got.get(name)!.data.equals(a.data)).map(([name]) => name);
  expect(differing, `${label}: files that differ from a plain build`).toEqual([]);
}

/**
 * cargo's JSON messages that do not depend on timing: compiler artifacts
 * (paths, fresh or not aside) and diagnostics, sorted.
 */
export function cargoMessages(stdoutAndErr: string): string[] {
  const out: string[] = [];
  for (const line of stdoutAndErr.split("\n")) {
    if (!line.startsWith("{")) continue;
    const m = JSON.parse(line) as { reason: string; filenames?: string[]; message?: { rendered?: string }; target?: { name: string } };
    if (m.reason === "compiler-artifact") out.push(`artifact ${m.target?.name}: ${(m.filenames ?? []).join(" ")}`);
    if (m.reason === "compiler-message") out.push(`message ${m.target?.name}: ${m.message?.rendered}`);
  }
  return out.sort();
}

export const sum = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((a, b) => a + b, 0);

export function fallbacks(s: StatsJson): Record<string, number> {
  return (s.fallbacks ?? {}) as Record<string, number>;
}
