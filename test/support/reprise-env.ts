import { execa, type Options } from "execa";
import type { StatsSnapshot } from "../../packages/core/src/stats/stats.js";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const REPRISE_BIN = join(REPO_ROOT, "packages/core/dist/bin/reprise.js");
export const REPRISE_NATIVE_BIN = join(REPO_ROOT, "packages/core/dist/native/reprise-native");
export const REPRISE_LAUNCHER = join(REPO_ROOT, "packages/core/bin/reprise");

// The daemon and the Node client run core's bundle (scripts/bundle.mjs, the last step of `npm run build`):
// after a bare `tsc -b` it would still hold the code before the edit, and tests would pass or fail on that.
assertBundleCurrent();

function assertBundleCurrent(): void {
  // The default compiler plugins are bundled too (scripts/bundle-plugins.mjs).
  for (const [pkg, entry] of [["core", "daemon.cjs"], ["plugin-gcc", "index.js"], ["plugin-clang", "index.js"], ["plugin-rustc", "index.js"], ["plugin-rustup", "index.js"]] as const) {
    const dir = join(REPO_ROOT, "packages", pkg);
    const built = statSync(join(dir, "tsconfig.tsbuildinfo"), { throwIfNoEntry: false });
    const bundle = statSync(join(dir, "dist/bundle", entry), { throwIfNoEntry: false });
    if (!bundle) throw new Error(`packages/${pkg}/dist/bundle is missing: run \`npm run build\``);
    if (built && built.mtimeMs > bundle.mtimeMs) throw new Error(`packages/${pkg}/dist/bundle is older than tsc's output: run \`npm run build\``);
  }
}

/**
 * Which client `RepriseSandbox.run` starts: the Node client (default), the
 * native one, or the package's sh launcher (which picks the native one when
 * it is built). Chosen for a whole run with REPRISE_TEST_CLIENT.
 */
export type ClientKind = "node" | "native" | "launcher";
export const TEST_CLIENT: ClientKind = parseClientKind(process.env.REPRISE_TEST_CLIENT);

function parseClientKind(v: string | undefined): ClientKind {
  if (!v) return "node";
  if (v === "node" || v === "native" || v === "launcher") return v;
  throw new Error(`REPRISE_TEST_CLIENT must be node, native or launcher, not ${JSON.stringify(v)}`);
}

/** The command line that starts `client` (for `CC="<it> gcc"` and the like). */
export function clientCommand(client: ClientKind = TEST_CLIENT): string[] {
  switch (client) {
    case "node":
      return [process.execPath, REPRISE_BIN];
    case "native":
      if (!existsSync(REPRISE_NATIVE_BIN)) throw new Error(`${REPRISE_NATIVE_BIN} is not built (npm run build needs a C compiler)`);
      return [REPRISE_NATIVE_BIN];
    case "launcher":
      return [REPRISE_LAUNCHER];
  }
}

/** What a masquerading compiler link points at for `client`. */
export function clientLinkTarget(client: ClientKind = TEST_CLIENT): string {
  return client === "node" ? REPRISE_BIN : clientCommand(client)[0]!;
}

/**
 * An isolated Reprise installation for one test file: its own cache dir and
 * runtime dir (so its own daemon), stopped and removed by `dispose()`.
 */
export class RepriseSandbox {
  readonly root = mkdtempSync(join(tmpdir(), "reprise-e2e-"));
  readonly cacheDir = join(this.root, "cache");
  readonly runtimeDir = join(this.root, "run");

  constructor(
    private readonly extraEnv: Record<string, string> = {},
    readonly client: ClientKind = TEST_CLIENT,
  ) {}

  env(more: Record<string, string> = {}): Record<string, string> {
    return {
      ...(process.env as Record<string, string>),
      REPRISE_DIR: this.cacheDir,
      REPRISE_RUNTIME_DIR: this.runtimeDir,
      REPRISE_IDLE_TIMEOUT: "120",
      LC_ALL: "C",
      ...this.extraEnv,
      ...more,
    };
  }

  /** `reprise <args>` in `cwd`, through this sandbox's client. */
  run(args: string[], cwd: string, opts: { env?: Record<string, string> } & Omit<Options, "env" | "cwd"> = {}) {
    const { env, ...rest } = opts;
    const [cmd, ...pre] = clientCommand(this.client);
    return execa(cmd!, [...pre, ...args], { cwd, env: this.env(env), extendEnv: false, reject: false, encoding: "buffer", stripFinalNewline: false, ...rest });
  }

  async stats(cwd = this.root): Promise<StatsJson> {
    const r = await this.run(["--show-stats", "--json"], cwd);
    if (r.exitCode !== 0) throw new Error(`--show-stats failed: ${Buffer.from(r.stderr as Uint8Array).toString()}`);
    return JSON.parse(Buffer.from(r.stdout as Uint8Array).toString()).stats as StatsJson;
  }

  /**
   * Waits (bounded) until the daemon has made the copies it makes once idle (the direct-mode fallback's copy of
   * each miss under the preprocessed text's key), for tests that count what each level stored.
   */
  async idleCopiesMade(cwd = this.root): Promise<void> {
    for (let i = 0; i < 300 && (await this.stats(cwd)).fallbackCopiesWaiting > 0; i++) await new Promise((r) => setTimeout(r, 200));
    const left = (await this.stats(cwd)).fallbackCopiesWaiting;
    if (left > 0) throw new Error(`the daemon still had ${left} fallback copies to make after 60 s`);
  }

  /** The last `lines` lines of the daemon's log (only those `keep` accepts, when given), for failure messages. */
  daemonLogTail(lines: number, keep: (line: string) => boolean = () => true): string {
    try {
      return readFileSync(join(this.runtimeDir, "daemon.log"), "utf8").split("\n").filter(keep).slice(-lines).join("\n");
    } catch {
      return "(no daemon log)";
    }
  }

  async zeroStats(): Promise<void> {
    await this.run(["--zero-stats"], this.root);
  }

  async dispose(): Promise<void> {
    await this.run(["--stop-server"], this.root).catch(() => undefined);
    // The stopping daemon may still be removing its hit index and files: retry on ENOTEMPTY.
    rmSync(this.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

export type StatsJson = StatsSnapshot;

/** Runs a command without Reprise, for the reference result. */
export function plain(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return execa(cmd, args, { cwd, env: { ...(process.env as Record<string, string>), LC_ALL: "C", ...env }, extendEnv: false, reject: false, encoding: "buffer", stripFinalNewline: false });
}

export function text(b: unknown): string {
  return Buffer.from(b as Uint8Array).toString("utf8");
}

/**
 * The pid of the daemon running in `runtimeDir`, from its scratch folder
 * tmp-<pid> (made as soon as it holds the lock), or undefined.
 */
export function runningDaemonPid(runtimeDir: string): number | undefined {
  let names: string[];
  try {
    names = readdirSync(runtimeDir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const pid = Number(/^tmp-(\d+)$/.exec(name)?.[1]);
    if (!pid) continue;
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      // a leftover of a killed daemon
    }
  }
  return undefined;
}
