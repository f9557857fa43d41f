import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPRISE_LAUNCHER, RepriseSandbox, text } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";
import {
  appendTo,
  cargoEnv,
  crateId,
  findCargo,
  outcomeSandbox,
  RUSTC_PLUGIN,
  rustcArtifacts,
  setupRustWorkspace,
  writeOutcomeLogger,
  type Artifact,
  type Outcome,
  type OutcomeSandbox,
} from "../support/rust-workspace.js";

// A real workspace (6 members: lib, proc-macro, lib with a build script that
// compiles C, staticlib+rlib, program) on 36 crates from Debian's
// librust-*-dev packages (serde + derive, syn, thiserror, serde_json, libc,
// ...) and 15 build scripts: 51 rustc compiles, built by cargo with Reprise
// as RUSTC_WRAPPER — `packages/core/bin/reprise`, the command users name,
// which runs the native client. One plain build is the reference for every
// comparison.

const cargo = findCargo();
const LONG = 600_000;

let sb: RepriseSandbox;
let ws: string;
let cargoHome: string;
let wrapper: string;
let outcomes: ReturnType<typeof writeOutcomeLogger>;
let reference: Map<string, Artifact>;
let referenceDiagnostics: string[];
let referenceRun: string;
/** Crates compiled (and cached) by a cold build, by id. */
let cached: string[];

const MEMBERS = ["ids", "derive_describe", "model", "build_script_build@model", "store", "ffi", "fixture_cli"];

async function cargoRun(args: string[], opts: { wrapper?: boolean; env?: Record<string, string> } = {}) {
  const env = cargoEnv(cargo!, cargoHome, { ...sb.env(), ...(opts.wrapper ? { RUSTC_WRAPPER: wrapper } : {}), ...opts.env });
  const r = await execa(cargo!, args, { cwd: ws, env, extendEnv: false, reject: false, all: true, timeout: LONG });
  if (r.exitCode !== 0) throw new Error(`cargo ${args.join(" ")} failed (${r.exitCode}):\n${r.all}`);
  return r;
}

/**
 * The outcomes of the calls since the last `clearOutcomes()`. The daemon
 * stores a miss (and reports its outcome) after answering the call: asking
 * for the stats waits for those stores.
 */
async function readOutcomes(): Promise<Outcome[]> {
  await sb.stats();
  return outcomes.read();
}

async function clearOutcomes(): Promise<void> {
  await sb.zeroStats();
  outcomes.clear();
}

/** A clean build: what `cargo clean && cargo build` does. */
async function cleanBuild(opts: { wrapper?: boolean; env?: Record<string, string> } = {}) {
  await cargoRun(["clean", "-q"], opts);
  await clearOutcomes();
  const r = await cargoRun(["build"], opts);
  return { stderr: text(r.stderr), outcomes: await readOutcomes() };
}

/** cargo's diagnostics without its progress lines, as a sorted list of blocks (crates finish in any order). */
function diagnostics(stderr: string): string[] {
  return stderr
    .split(/\n\s*\n/)
    .map((b) =>
      b
        .split("\n")
        .filter((l) => !/^\s*(Compiling|Finished|Locking|Adding|Blocking|Updating|Building|Fresh)\b/.test(l))
        .join("\n")
        .trim(),
    )
    .filter(Boolean)
    .sort();
}

function ids(list: Outcome[], result: string): string[] {
  return list.filter((o) => o.result === result).map(crateId).sort();
}

function expectSameArtifacts(got: Map<string, Artifact>, label: string) {
  expect([...got.keys()].sort(), `${label}: same files`).toEqual([...reference.keys()].sort());
  const differing = [...reference].filter(([name, a]) => !got.get(name)!.data.equals(a.data)).map(([name]) => name);
  expect(differing, `${label}: files that differ from a plain build`).toEqual([]);
  const modes = [...reference].filter(([name, a]) => got.get(name)!.mode !== a.mode).map(([name, a]) => `${name} ${a.mode.toString(8)} → ${got.get(name)!.mode.toString(8)}`);
  expect(modes, `${label}: files whose permissions differ from a plain build`).toEqual([]);
}

async function runProgram(env: Record<string, string> = {}) {
  const r = await execa(join(ws, "target/debug/fixture-cli"), [], { reject: false, env });
  expect(r.exitCode).toBe(0);
  return r.stdout;
}

it("finds cargo (PATH, then ~/.cargo/bin), as the README requires", () => {
  expect(cargo, "cargo not found: install rustup's stable toolchain").toBeTruthy();
});

describe("cargo with RUSTC_WRAPPER=reprise on a real workspace", () => {
  let client: OutcomeSandbox;
  beforeAll(async () => {
    client = outcomeSandbox("reprise-rust-outcomes-");
    ({ sb, outcomes, cargoHome } = client);
    ws = join(sb.root, "ws");
    await setupRustWorkspace(ws);
    wrapper = REPRISE_LAUNCHER;
  }, LONG);

  afterAll(async () => {
    await client?.dispose();
  });

  it(
    "a cold build gives a plain build's artifacts byte for byte and replays its warnings",
    async () => {
      const plain = await cleanBuild();
      reference = rustcArtifacts(join(ws, "target/debug"));
      referenceDiagnostics = diagnostics(plain.stderr);
      referenceRun = await runProgram();
      expect(referenceDiagnostics.join("\n")).toContain("unused variable: `unused_warning`");
      expect(referenceRun).toContain("store for plain-0.3.1#0");

      const cold = await cleanBuild({ wrapper: true });
      expectSameArtifacts(rustcArtifacts(join(ws, "target/debug")), "cold");
      expect(diagnostics(cold.stderr)).toEqual(referenceDiagnostics);
      expect(cold.stderr).not.toContain("jobserver");
      expect(await runProgram()).toBe(referenceRun);

      cached = ids(cold.outcomes, "miss");
      expect(ids(cold.outcomes, "hit-direct")).toEqual([]);
      // Every crate of the graph, every build script and every member.
      expect(cached.length).toBeGreaterThanOrEqual(40);
      for (const c of [...MEMBERS, "serde", "serde_derive", "syn", "proc_macro2", "serde_json", "libc", "thiserror_impl", "build_script_build@serde"]) expect(cached).toContain(c);
      // Not compilations: cargo's `rustc -vV` and `--print` probes; the build scripts' feature probes fail on stable (never cached).
      const others = cold.outcomes.filter((o) => o.result !== "miss");
      for (const o of others) expect(["not-cacheable", "compile-failed"]).toContain(o.result);
      expect(others.filter((o) => o.result === "not-cacheable").map((o) => o.reason).sort()).toEqual(expect.arrayContaining(["not-a-compilation", "print"]));
      // Reprise itself never had to fall back.
      const s = await sb.stats();
      expect(s.errors).toEqual({});
      expect(s.misses).toBe(cached.length);
    },
    LONG,
  );

  it(
    "a second clean build is all hits, with identical artifacts and the same warnings",
    async () => {
      const warm = await cleanBuild({ wrapper: true });
      expect(ids(warm.outcomes, "miss")).toEqual([]);
      expect(ids(warm.outcomes, "hit-direct")).toEqual(cached);
      expectSameArtifacts(rustcArtifacts(join(ws, "target/debug")), "warm");
      // cargo shows the warnings of a hit as it would for a compile: rustc's JSON diagnostics are replayed.
      expect(diagnostics(warm.stderr)).toEqual(referenceDiagnostics);
      expect(await runProgram()).toBe(referenceRun);
      const s = await sb.stats();
      expect(s.hitsDirect).toBe(cached.length);
      expect(s.misses).toBe(0);
      expect(s.errors).toEqual({});
      // cargo takes the restored files for up to date: a build right after compiles nothing.
      await clearOutcomes();
      await cargoRun(["build"], { wrapper: true });
      expect((await readOutcomes()).filter((o) => o.result !== "not-cacheable")).toEqual([]);
    },
    LONG,
  );

  it(
    "changing one source file (a module only dep-info names) misses that crate and the crates built on it, nothing else",
    async () => {
      const restore = appendTo(join(ws, "crates/store/src/text.rs"), "\npub fn added_by_the_test() -> u32 { 7 }\n");
      try {
        const r = await cleanBuild({ wrapper: true });
        expect(ids(r.outcomes, "miss")).toEqual(["fixture_cli", "store"]);
        expect(ids(r.outcomes, "hit-direct").length).toBe(cached.length - 2);
      } finally {
        restore();
      }
    },
    LONG,
  );

  it(
    "changing an env var that one crate reads (option_env!) misses that crate and its dependents only",
    async () => {
      const env = { REPRISE_FIXTURE_FLAVOR: "spicy" };
      const r = await cleanBuild({ wrapper: true, env });
      // ids reads it; model, store, ffi and the program get ids' new metadata through --extern.
      expect(ids(r.outcomes, "miss")).toEqual(["ffi", "fixture_cli", "ids", "model", "store"]);
      expect(ids(r.outcomes, "hit-direct").length).toBe(cached.length - 5);
      expect(await runProgram()).toContain("store for spicy-0.3.1#0");

      // The entries for the variable unset are still there, next to the new ones.
      const back = await cleanBuild({ wrapper: true });
      expect(ids(back.outcomes, "miss")).toEqual([]);
      expect(await runProgram()).toBe(referenceRun);
      expectSameArtifacts(rustcArtifacts(join(ws, "target/debug")), "after the env round trip");
    },
    LONG,
  );

  it(
    "incremental compiles are not cached",
    async () => {
      // Not a clean build: cargo recompiles the members (their profile changed) and nothing else.
      await clearOutcomes();
      await cargoRun(["build"], { wrapper: true, env: { CARGO_INCREMENTAL: "1" } });
      const r = await readOutcomes();
      expect(r.filter((o) => o.reason === "incremental").map(crateId).sort()).toEqual([...MEMBERS].sort());
      expect(ids(r, "miss")).toEqual([]);
      expect(await runProgram()).toBe(referenceRun);
    },
    LONG,
  );
});

describe("rustc called directly, through rustup's proxy", () => {
  let direct: RepriseSandbox;
  beforeAll(() => {
    direct = new RepriseSandbox({ REPRISE_PLUGINS: RUSTC_PLUGIN, PATH: `${dirname(cargo!)}:${process.env.PATH ?? "/usr/bin:/bin"}` });
  });
  afterAll(async () => {
    await direct?.dispose();
  });

  it("compiles like rustc: same program, dep-info and diagnostics on a miss and on a hit", async () => {
    const dir = join(direct.root, "hello");
    mkdirSync(join(dir, "out"), { recursive: true });
    writeFileSync(join(dir, "hello.rs"), 'fn main() {\n    let unused = 1;\n    println!("hello {}", env!("HELLO_GREETING"));\n}\n');
    const argv = ["rustc", "--crate-name", "hello", "--crate-type", "bin", "--edition=2021", "--emit=link,dep-info", "-C", "extra-filename=-x", "--out-dir", "out", "hello.rs"];
    const env = { HELLO_GREETING: "world" };
    const { ref } = await expectSameAsPlain(direct, dir, argv, ["out/hello-x", "out/hello-x.d"], env);
    expect(ref.stderr).toContain("unused variable");
    const s = await direct.stats();
    expect(s.misses).toBe(1);
    expect(s.hitsDirect).toBe(1);
    // `env!` made the variable part of the entry: another value is a miss.
    const other = await direct.run(argv, dir, { env: { HELLO_GREETING: "moon" } });
    expect(other.exitCode).toBe(0);
    expect((await direct.stats()).misses).toBe(2);
  });

  it("a call without --emit still writes the crate (the dep-info the plugin adds does not replace rustc's default)", async () => {
    const dir = join(direct.root, "noemit");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "lib.rs"), "pub fn answer() -> u32 { let unused = 2; 42 }\n");
    await direct.zeroStats();
    const argv = ["rustc", "--crate-name", "noemit", "--crate-type", "lib", "--edition=2021", "lib.rs"];
    const { ref } = await expectSameAsPlain(direct, dir, argv, ["libnoemit.rlib", "noemit.d"]);
    expect(ref.files["libnoemit.rlib"]).not.toBeNull();
    expect(ref.files["noemit.d"]).toBeNull();
    const s = await direct.stats();
    expect([s.misses, s.hitsDirect]).toEqual([1, 1]);
  });

  it("a fresh daemon does not hash the toolchain again: large files' hashes are kept in the cache directory", async () => {
    const dir = join(direct.root, "restart");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "lib.rs"), "pub fn one() -> u32 { 1 }\n");
    const argv = ["rustc", "--crate-name", "restart", "--crate-type", "lib", "--edition=2021", "lib.rs"];
    expect((await direct.run(argv, dir)).exitCode).toBe(0);
    await direct.run(["--stop-server"], dir);
    const file = join(direct.cacheDir, "file-digests.json");
    const kept = readFileSync(file, "utf8");
    // rustc's own library and the std rlibs (hashed into every key) are there.
    expect(kept).toMatch(/librustc_driver-[0-9a-f]+\.so/);
    expect(kept).toMatch(/rustlib\/[^"]+\/lib\/libstd-[0-9a-f]+\.rlib/);
    const before = statSync(file).mtimeMs;
    // Another crate, compiled by a fresh daemon: a miss that hashes no toolchain file again (nothing new to keep).
    writeFileSync(join(dir, "lib.rs"), "pub fn two() -> u32 { 2 }\n");
    await direct.zeroStats();
    expect((await direct.run(argv, dir)).exitCode).toBe(0);
    expect((await direct.stats()).misses).toBe(1);
    await direct.run(["--stop-server"], dir);
    expect(statSync(file).mtimeMs).toBe(before);
  }, LONG);
});
