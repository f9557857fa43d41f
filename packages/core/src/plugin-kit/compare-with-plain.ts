import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

/** What one run of a compile left behind. */
export interface Observed {
  exitCode: number;
  stdout: string;
  stderr: string;
  files: Record<string, Buffer | undefined>;
}

const CLIENT = fileURLToPath(new URL("../bin/reprise.js", import.meta.url));

/** An isolated Reprise (own daemon, cache and runtime directory) that runs calls through core's client. */
export class IsolatedReprise {
  constructor(
    readonly root: string,
    private readonly baseEnv: Record<string, string>,
  ) {}

  env(extra: Record<string, string> = {}): Record<string, string> {
    const env = Object.fromEntries(Object.entries(this.baseEnv).filter(([k]) => !k.startsWith("REPRISE_")));
    return { ...env, REPRISE_DIR: join(this.root, "cache"), REPRISE_RUNTIME_DIR: join(this.root, "run"), REPRISE_IDLE_TIMEOUT: "120", ...extra };
  }

  /** `reprise <args>` in `cwd`. */
  async reprise(args: string[], cwd: string, extra: Record<string, string> = {}) {
    return execa(process.execPath, [CLIENT, ...args], { cwd, env: this.env(extra), extendEnv: false, reject: false, encoding: "buffer", stripFinalNewline: false });
  }

  /** The same call without Reprise. */
  async plain(argv: string[], cwd: string, extra: Record<string, string> = {}) {
    return execa(argv[0]!, argv.slice(1), { cwd, env: this.env(extra), extendEnv: false, reject: false, encoding: "buffer", stripFinalNewline: false });
  }

  async stats(cwd: string): Promise<{ stats: { byPlugin?: Record<string, { hits: number; misses: number }> } }> {
    const r = await this.reprise(["--show-stats", "--json"], cwd);
    if (r.exitCode !== 0) throw new Error(`reprise --show-stats failed: ${Buffer.from(r.stderr).toString()}`);
    return JSON.parse(Buffer.from(r.stdout).toString()) as { stats: { byPlugin?: Record<string, { hits: number; misses: number }> } };
  }

  async stop(): Promise<void> {
    await this.reprise(["--stop-server"], this.root);
  }
}

export function observe(cwd: string, outputs: string[], r: { exitCode?: number; stdout: unknown; stderr: unknown }): Observed {
  const files: Record<string, Buffer | undefined> = {};
  for (const f of outputs) files[f] = existsSync(join(cwd, f)) ? readFileSync(join(cwd, f)) : undefined;
  return { exitCode: r.exitCode ?? -1, stdout: Buffer.from(r.stdout as Uint8Array).toString(), stderr: Buffer.from(r.stderr as Uint8Array).toString(), files };
}

export function removeOutputs(cwd: string, outputs: string[]): void {
  for (const f of outputs) rmSync(join(cwd, f), { force: true });
}

/** Differences between a run through Reprise and the plain one, in words; empty when identical. */
export function differences(label: string, got: Observed, plain: Observed): string[] {
  const out: string[] = [];
  if (got.exitCode !== plain.exitCode) out.push(`${label}: exit status ${got.exitCode}, plain compile ${plain.exitCode}`);
  if (got.stdout !== plain.stdout) out.push(`${label}: stdout differs (${JSON.stringify(got.stdout)} vs ${JSON.stringify(plain.stdout)})`);
  if (got.stderr !== plain.stderr) out.push(`${label}: stderr differs (${JSON.stringify(got.stderr)} vs ${JSON.stringify(plain.stderr)})`);
  for (const [file, want] of Object.entries(plain.files)) {
    const have = got.files[file];
    if (!want && !have) continue;
    if (!want) out.push(`${label}: wrote ${file}, which a plain compile does not`);
    else if (!have) out.push(`${label}: did not write ${file}`);
    else if (!have.equals(want)) out.push(`${label}: ${file} differs from the plain compile's (${have.length} vs ${want.length} bytes)`);
  }
  return out;
}
