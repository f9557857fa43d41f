import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox, text } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";
import {
  appendTo,
  cargoEnv,
  crateId,
  findCargo,
  RUSTC_PLUGIN,
  rustcArtifacts,
  setupRustWorkspace,
  writeOutcomeLogger,
  writeRustcWrapper,
  type Outcome,
} from "../support/rust-workspace.js";

// A real workspace (6 members: lib, proc-macro, lib with a build script that
// compiles C, staticlib+rlib, program) on ~30 crates from Debian's
// librust-*-dev packages (serde + derive, syn, thiserror, serde_json, libc,
// ...; 11 build scripts), built by cargo with Reprise as RUSTC_WRAPPER.

const cargo = findCargo();
const LONG = 600_000;

let sb: RepriseSandbox;
let ws: string;
let cargoHome: string;
let wrapper: string;
let outcomes: ReturnType<typeof writeOutcomeLogger>;
let reference: Map<string, Buffer>;
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

/** A clean build: what `cargo clean && cargo build` does. */
async function cleanBuild(opts: { wrapper?: boolean; env?: Record<string, string> } = {}) {
  await cargoRun(["clean", "-q"], opts);
  outcomes.clear();
  await sb.zeroStats();
  const r = await cargoRun(["build"], opts);
  return { stderr: text(r.stderr), outcomes: outcomes.read() };
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

function expectSameArtifacts(got: Map<string, Buffer>, label: string) {
  expect([...got.keys()].sort(), `${label}: same files`).toEqual([...reference.keys()].sort());
  const differing = [...reference].filter(([name, data]) => !got.get(name)!.equals(data)).map(([name]) => name);
  expect(differing, `${label}: files that differ from a plain build`).toEqual([]);
}

async function runProgram(env: Record<string, string> = {}) {
  const r = await execa(join(ws, "target/debug/fixture-cli"), [], { reject: false, env });
  expect(r.exitCode).toBe(0);
  return r.stdout;
}

describe.skipIf(!cargo)("cargo with RUSTC_WRAPPER=reprise on a real workspace", () => {
  let logDir: string;
  beforeAll(async () => {
    logDir = mkdtempSync(join(tmpdir(), "reprise-rust-outcomes-"));
    outcomes = writeOutcomeLogger(logDir);
    // The plugins by path, so the daemon loads exactly these whatever is installed.
    sb = new RepriseSandbox({ REPRISE_PLUGINS: `${RUSTC_PLUGIN},${outcomes.plugin}` });
    ws = join(sb.root, "ws");
    cargoHome = join(sb.root, "cargo-home");
    mkdirSync(cargoHome);
    await setupRustWorkspace(ws);
    wrapper = writeRustcWrapper(sb.root);
  }, LONG);

  afterAll(async () => {
    await sb?.dispose();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
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
    },
    LONG,
  );

  it(
    "changing one source file misses that crate and the crates built on it, nothing else",
    async () => {
      const restore = appendTo(join(ws, "crates/store/src/lib.rs"), "\npub fn added_by_the_test() -> u32 { 7 }\n");
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

      // Both values are now cached side by side.
      const again = await cleanBuild({ wrapper: true, env });
      expect(ids(again.outcomes, "miss")).toEqual([]);
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
      outcomes.clear();
      await cargoRun(["build"], { wrapper: true, env: { CARGO_INCREMENTAL: "1" } });
      const r = outcomes.read();
      expect(r.filter((o) => o.reason === "incremental").map(crateId).sort()).toEqual([...MEMBERS].sort());
      expect(ids(r, "miss")).toEqual([]);
      expect(await runProgram()).toBe(referenceRun);
    },
    LONG,
  );
});

describe.skipIf(!cargo)("rustc called directly, through rustup's proxy", () => {
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
});
