/**
 * Rust crates that link, on a loopback farm: cargo with RUSTC_WRAPPER=reprise
 * and plugin-rustup sends every crate of the jobs workspace (plus a cdylib)
 * by descriptor to a bwrap builder that installs the toolchain with rustup
 * from a loopback distribution server. The cdylib links a static C archive
 * its build script makes (found in `-L native=`, carried as an input). The program, the proc macro, the build
 * script and the cdylib are linked on the builder, with its own `cc` and
 * system files, because their linker identity (driver, crt objects, libc and
 * libgcc files, by content) is the client's; every file cargo produced is
 * byte-identical to a plain build's. A builder whose linker has another
 * identity (clang) gets no link jobs: they compile here, counted
 * `dist-no-builder`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { inspectLinker } from "@reprise/plugin-rustc";
import { REPO_ROOT, text, type RepriseSandbox } from "../support/reprise-env.js";
import type { FarmProcess } from "../support/farm-processes.js";
import { findCargo, RUSTC_PLUGIN } from "../support/rust-workspace.js";
import { expectSameArtifacts, fallbacks, LIBRARY_CRATES, LINKED_CRATES, RustJobsWorkspace, type PlainReference } from "../support/rust-jobs-workspace.js";
import { rustupDistTree, startDistServer, type DistServer } from "../support/rustup-dist-server.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { LoopbackFarm } from "../support/loopback-farm.js";

const RUSTUP_PLUGIN = join(REPO_ROOT, "packages/plugin-rustup/dist/bundle/index.js");
const RUSTUP = join(process.env.HOME ?? "/root", ".cargo/bin/rustup");
const HOST = "x86_64-unknown-linux-gnu";
const cargo = findCargo();
const LONG = 900_000;
/** The crates linked here: the jobs workspace's, and a cdylib with its build script added for this test. */
const LINKED = [...LINKED_CRATES, "ffi", "build_script_build"];
let farm: LoopbackFarm;
let sb: RepriseSandbox;
let builder: FarmProcess;
let dist: DistServer;
let ws: RustJobsWorkspace;
let dataDir: string;
let reference: PlainReference;

const builders = () => farm.listed();

/** A builder installing toolchains with rustup from the loopback server, `rust` added to its config; waited for. */
async function startLinkBuilder(builderId: string, rust: Record<string, unknown> = {}): Promise<void> {
  builder = await farm.startBuilder({ id: builderId, dataDir, extra: { rust: { rustup: { rustup: RUSTUP, distServer: dist.url, timeoutMs: 300_000 }, ...rust } } });
  await farm.waitForBuilders(1);
}

const farmEnv = () => farm.env({ REPRISE_DIST_JOB_TIMEOUT_MS: "600000" });
const daemonLog = () => sb.daemonLogTail(20);

/**
 * A cdylib using `mid` (and `base` through it, found in `-L dependency=`): its
 * link reads both rlibs. Its build script compiles a C file into a static
 * archive in OUT_DIR (`cargo:rustc-link-lib=static=twice`), which the link
 * reads from `-L native=`: it travels as an input.
 */
function addCdylib(dir: string): void {
  const crate = join(dir, "crates", "ffi");
  mkdirSync(join(crate, "src"), { recursive: true });
  writeFileSync(join(crate, "Cargo.toml"), '[package]\nname = "ffi"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\ncrate-type = ["cdylib"]\n\n[dependencies]\nmid = { path = "../mid" }\n');
  writeFileSync(join(crate, "twice.c"), "unsigned twice(unsigned x) { return 2 * x + 1; }\n");
  writeFileSync(
    join(crate, "build.rs"),
    [
      "use std::{env, path::Path, process::Command};",
      "fn main() {",
      '    let out = env::var("OUT_DIR").unwrap();',
      '    let obj = Path::new(&out).join("twice.o");',
      '    assert!(Command::new("cc").args(["-c", "-O2", "-fPIC", "twice.c", "-o"]).arg(&obj).status().unwrap().success());',
      '    assert!(Command::new("ar").arg("crsD").arg(Path::new(&out).join("libtwice.a")).arg(&obj).status().unwrap().success());',
      '    println!("cargo:rustc-link-search=native={out}");',
      '    println!("cargo:rustc-link-lib=static=twice");',
      '    println!("cargo:rerun-if-changed=twice.c");',
      "}",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(crate, "src", "lib.rs"),
    'extern "C" {\n    fn twice(x: u32) -> u32;\n}\n\n#[no_mangle]\npub extern "C" fn ffi_checksum(p: *const u8, n: usize) -> u32 {\n    let bytes = unsafe { std::slice::from_raw_parts(p, n) };\n    unsafe { twice(mid::summary(&[bytes]).1) }\n}\n\n#[no_mangle]\npub extern "C" fn ffi_banner_len() -> usize {\n    mid::banner().len()\n}\n',
  );
}

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap", "clang"]);
  if (!cargo) throw new Error("cargo not found: install rustup's stable toolchain (README)");
  dist = await startDistServer(rustupDistTree());
  farm = await LoopbackFarm.start({ clientEnv: { REPRISE_PLUGINS: `${RUSTC_PLUGIN},${RUSTUP_PLUGIN}` } });
  sb = farm.sb;
  // One data dir for every builder of the file: a later one finds the toolchain the first installed.
  dataDir = join(farm.dir, "b1");
  await startLinkBuilder("link-b1");
  ws = new RustJobsWorkspace(sb, cargo);
  addCdylib(ws.dir);
  reference = await ws.plainReference();
  const cdylib = [...reference.artifacts.keys()].find((k) => /^deps\/libffi(-[0-9a-f]+)?\.so$/.test(k));
  expect(cdylib, "the plain build made the cdylib").toBeDefined();
  // The C function is linked in from the static archive.
  expect(reference.artifacts.get(cdylib!)!.data.includes(Buffer.from("twice\0"))).toBe(true);
}, LONG);

afterAll(async () => {
  await farm?.dispose();
  await dist?.close();
});

it(
  "the program, proc macro, build script and cdylib link on a builder with the client's linker identity; every file equals a plain build's",
  async () => {
    const cc = await inspectLinker("cc", { cwd: "/", pathEnv: process.env.PATH });
    expect((await builders())[0]!.capabilities).toContain(`link:${HOST}:${cc.identity}`);
    // What a user sees.
    const shown = await sb.run(["--dist-status"], sb.root, { env: farmEnv() });
    expect(text(shown.stdout)).toContain(`      can also finish: link:${HOST}:${cc.identity}\n`);
    const { built, stats: s } = await ws.cleanBuildThroughReprise(farmEnv());
    // Nothing fell back: every crate, linked or not, compiled on the builder.
    expect(fallbacks(s), `${daemonLog()}\n${builder.output().slice(-3000)}`).toEqual({});
    expect(s.remote?.farm?.compiles ?? 0).toBe(LIBRARY_CRATES.length + LINKED.length);
    await ws.expectSameAs(reference, built, "farm build with links on the builder");
  },
  LONG,
);

it(
  "test harnesses (cargo test --no-run: rustc --test) link on the builder too, byte-identical to a plain build's",
  async () => {
    await ws.cargoRun(["clean", "-q"]);
    await ws.cargoRun(["test", "--no-run", "-q"]);
    const plainTests = ws.artifacts();
    await sb.zeroStats();
    await ws.cargoRun(["clean", "-q"], { wrapper: true, env: farmEnv() });
    await ws.cargoRun(["test", "--no-run", "-q"], { wrapper: true, env: farmEnv() });
    const s = await sb.stats();
    expect(fallbacks(s), daemonLog()).toEqual({});
    // At least one harness per package (4 libraries, the program, the cdylib), linked remotely; dependencies may hit.
    expect(s.remote?.farm?.compiles ?? 0, JSON.stringify(s)).toBeGreaterThanOrEqual(6);
    expectSameArtifacts(ws.artifacts(), plainTests, "cargo test --no-run on the farm");
  },
  LONG,
);

it(
  "a builder whose linker has another identity (clang for the host) gets no link jobs: they link here, counted dist-no-builder; the libraries still go",
  async () => {
    await builder.kill();
    await farm.waitForBuilders(0);
    await startLinkBuilder("clang-linker-b2", { linkTargets: [{ target: HOST, linker: "clang" }] });
    const caps = (await builders())[0]!.capabilities ?? [];
    const cc = await inspectLinker("cc", { cwd: "/", pathEnv: process.env.PATH });
    expect(caps.some((c) => c.startsWith(`link:${HOST}:`))).toBe(true);
    expect(caps).not.toContain(`link:${HOST}:${cc.identity}`);
    expect((await sb.run(["--clear"], sb.root)).exitCode).toBe(0);
    const { stats: s } = await ws.cleanBuildThroughReprise(farmEnv());
    expect(s.remote?.farm?.compiles ?? 0, `${JSON.stringify(s.fallbacks)}\n${daemonLog()}`).toBe(LIBRARY_CRATES.length);
    expect(fallbacks(s)).toEqual({ "dist-no-builder": LINKED.length });
    expectSameArtifacts(ws.artifacts(), reference.artifacts, "farm build whose links stay local");
  },
  LONG,
);
