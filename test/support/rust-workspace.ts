import { appendFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, delimiter, dirname, join } from "node:path";
import { execa } from "execa";
import { REPO_ROOT, RepriseSandbox } from "./reprise-env.js";

export const SETUP_SCRIPT = join(REPO_ROOT, "scripts/setup-rust-fixtures.sh");
export const RUSTC_PLUGIN = join(REPO_ROOT, "packages/plugin-rustc/dist/bundle/index.js");

/** cargo on PATH, else rustup's default place; undefined when this machine has no Rust toolchain. */
export function findCargo(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, "cargo"))) return join(dir, "cargo");
  }
  const rustup = join(homedir(), ".cargo", "bin", "cargo");
  return existsSync(rustup) ? rustup : undefined;
}

/** Installs the Debian crate packages when missing and copies the test workspace to `dest`. */
export async function setupRustWorkspace(dest: string): Promise<void> {
  const r = await execa("bash", [SETUP_SCRIPT, dest], { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`${SETUP_SCRIPT} failed:\n${r.all}`);
}

/** The environment for a cargo run: isolated CARGO_HOME, cargo's directory on PATH, nothing inherited that changes rustc calls. */
export function cargoEnv(cargo: string, cargoHome: string, more: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(RUSTC_WRAPPER|RUSTC_WORKSPACE_WRAPPER|RUSTFLAGS|CARGO_ENCODED_RUSTFLAGS|CARGO_INCREMENTAL|CARGO_TARGET_DIR|CARGO_BUILD_.*|REPRISE_FIXTURE_.*|MAKEFLAGS|MFLAGS)$/.test(k)) continue;
    env[k] = v;
  }
  env.PATH = `${dirname(cargo)}${delimiter}${env.PATH ?? "/usr/bin:/bin"}`;
  env.CARGO_HOME = cargoHome;
  env.CARGO_TERM_COLOR = "never";
  env.CARGO_BUILD_JOBS = "2";
  return { ...env, ...more };
}

export interface Outcome {
  result: string;
  reason?: string;
  crate?: string;
  outDir?: string;
}

/**
 * A plugin, loaded by the daemon from a file, that appends every call's
 * outcome (hit, miss, not cacheable) with its crate name to a JSON-lines log:
 * the tests can then tell exactly which crates missed.
 */
export function writeOutcomeLogger(dir: string): { plugin: string; read(): Outcome[]; clear(): void } {
  const log = join(dir, "outcomes.jsonl");
  const plugin = join(dir, "outcome-logger.mjs");
  writeFileSync(
    plugin,
    `import { appendFileSync } from "node:fs";
const LOG = ${JSON.stringify(log)};
function crateName(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--crate-name") return argv[i + 1];
    if (argv[i].startsWith("--crate-name=")) return argv[i].slice("--crate-name=".length);
  }
  return undefined;
}
export default {
  name: "reprise-test-outcome-log",
  apply(engine) {
    engine.hooks.callFinished.tapPromise("reprise-test-outcome-log", async (o) => {
      const argv = o.request.argv;
      const i = argv.indexOf("--out-dir");
      appendFileSync(LOG, JSON.stringify({ result: o.result, reason: o.reason, crate: crateName(argv), outDir: i < 0 ? undefined : argv[i + 1] }) + "\\n");
    });
  },
};
`,
  );
  writeFileSync(log, "");
  return {
    plugin,
    read: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Outcome),
    clear: () => writeFileSync(log, ""),
  };
}

/** A client sandbox for cargo builds whose calls' outcomes the test reads. */
export interface OutcomeSandbox {
  sb: RepriseSandbox;
  outcomes: ReturnType<typeof writeOutcomeLogger>;
  /** An empty CARGO_HOME in the sandbox's root. */
  cargoHome: string;
  dispose(): Promise<void>;
}

/**
 * A sandbox whose daemon loads plugin-rustc and the outcome logger (by path,
 * so exactly these whatever is installed), the logger in a temporary
 * directory named after `prefix`; `dispose()` removes both.
 */
export function outcomeSandbox(prefix: string): OutcomeSandbox {
  const logDir = mkdtempSync(join(tmpdir(), prefix));
  const outcomes = writeOutcomeLogger(logDir);
  const sb = new RepriseSandbox({ REPRISE_PLUGINS: `${RUSTC_PLUGIN},${outcomes.plugin}` });
  const cargoHome = join(sb.root, "cargo-home");
  mkdirSync(cargoHome);
  return {
    sb,
    outcomes,
    cargoHome,
    dispose: async () => {
      await sb.dispose();
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** A crate's name in outcomes: build scripts are told apart by their package (`build_script_build@serde`). */
export function crateId(o: Outcome): string {
  if (o.crate === "build_script_build" && o.outDir) return `build_script_build@${basename(o.outDir).replace(/-[0-9a-f]{16}$/, "")}`;
  return o.crate ?? "(none)";
}

/** Appends to a file (the tests edit one source file and put it back). */
export function appendTo(path: string, text: string): () => void {
  const before = readFileSync(path);
  appendFileSync(path, text);
  return () => writeFileSync(path, before);
}

export interface Artifact {
  data: Buffer;
  /** Permission bits (programs and proc macros are executable). */
  mode: number;
}

/**
 * Everything rustc wrote in a cargo target profile dir, by relative path:
 * `deps/` (rlibs, rmeta, proc macros, programs, dep-info), build-script
 * programs, and the copies cargo uplifts to the profile dir. Left out: what
 * cargo writes itself (fingerprints, `.d` files it rewrites, build-script
 * output dirs).
 */
export function rustcArtifacts(profileDir: string): Map<string, Artifact> {
  const out = new Map<string, Artifact>();
  const add = (rel: string) => out.set(rel, { data: readFileSync(join(profileDir, rel)), mode: statSync(join(profileDir, rel)).mode & 0o777 });
  const isFile = (rel: string) => lstatSync(join(profileDir, rel)).isFile();
  for (const n of readdirSync(join(profileDir, "deps"))) if (isFile(`deps/${n}`)) add(`deps/${n}`);
  for (const pkg of readdirSync(join(profileDir, "build"))) {
    for (const n of readdirSync(join(profileDir, "build", pkg))) {
      if (n.startsWith("build_script_build-") && isFile(`build/${pkg}/${n}`)) add(`build/${pkg}/${n}`);
    }
  }
  for (const n of readdirSync(profileDir)) if (!n.endsWith(".d") && !n.startsWith(".") && isFile(n)) add(n);
  return out;
}
