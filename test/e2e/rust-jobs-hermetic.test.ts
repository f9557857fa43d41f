import { afterAll, beforeAll, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { findCargo, RUSTC_PLUGIN } from "../support/rust-workspace.js";
import { cargoMessages, expectSameArtifacts, fallbacks, LIBRARY_CRATES, LINKED_CRATES, RustJobsWorkspace, sum, type PlainReference } from "../support/rust-jobs-workspace.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";

/**
 * Rust compiles as jobs in hermetic mode: cargo with RUSTC_WRAPPER=reprise
 * and REPRISE_HERMETIC=bwrap builds a workspace whose library crates are
 * compiled in the bwrap sandbox from rustc's toolchain archive and the files
 * the closure scan names (sources, include_str!/include! files, the --extern
 * crates and the one rustc finds in -L dependency=); the linked crates (proc
 * macro, build script, program) too, with this machine's linker files and
 * rustc's rust-lld carried into the sandbox (`runnerFiles`). Every file cargo
 * produced is byte-identical to a plain cargo build in the same directory.
 */

const cargo = findCargo();
const LONG = 900_000;
let sb: RepriseSandbox;
let ws: RustJobsWorkspace;
let reference: PlainReference;

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  if (!cargo) throw new Error("cargo not found: install rustup's stable toolchain (README)");
  sb = new RepriseSandbox({ REPRISE_PLUGINS: RUSTC_PLUGIN });
  ws = new RustJobsWorkspace(sb, cargo);
  reference = await ws.plainReference({ env: { RJ_FLAVOUR: "plain-env" } });
}, LONG);

afterAll(async () => {
  await sb?.dispose();
});

const daemonWarnings = () => sb.daemonLogTail(8, (l) => l.includes("WARN"));

it(
  "every crate compiles in the sandbox, the linked ones with this machine's linker carried in, and every artifact equals a plain build's",
  async () => {
    expect(reference.run).toContain("plain-env");
    expect(reference.messages.join("\n")).toContain("unused variable: `unused_note`");
    const { built, stats: s } = await ws.cleanBuildThroughReprise({ REPRISE_HERMETIC: "bwrap", RJ_FLAVOUR: "plain-env" });
    expect(s.hermetic?.bwrap ?? 0, `sandboxed compiles; fallbacks ${JSON.stringify(s.fallbacks)}\n${daemonWarnings()}`).toBe(LIBRARY_CRATES.length + LINKED_CRATES.length);
    expect(fallbacks(s)).toEqual({});
    await ws.expectSameAs(reference, built, "hermetic build");
  },
  LONG,
);

it(
  "a warm rebuild hits every crate; an env! variable's value reaches the sandboxed compile",
  async () => {
    let { stats: s } = await ws.cleanBuildThroughReprise({ REPRISE_HERMETIC: "bwrap", RJ_FLAVOUR: "plain-env" });
    expect(sum(s.hermetic)).toBe(0);
    expectSameArtifacts(ws.artifacts(), reference.artifacts, "warm build");

    // option_env!("RJ_FLAVOUR") in base: another value is another compile of base (and of what uses it), in the sandbox.
    await sb.zeroStats();
    await ws.cleanBuild({ env: { RJ_FLAVOUR: "other" } });
    const otherReference = ws.artifacts();
    const otherRun = await ws.runTool();
    expect(otherRun).toContain("other");
    await ws.cleanBuild({ wrapper: true, env: { REPRISE_HERMETIC: "bwrap", RJ_FLAVOUR: "other" } });
    s = await sb.stats();
    expect(s.hermetic?.bwrap ?? 0, daemonWarnings()).toBeGreaterThanOrEqual(1);
    expectSameArtifacts(ws.artifacts(), otherReference, "build with another env! value");
    expect(await ws.runTool()).toBe(otherRun);
  },
  LONG,
);

it(
  "cargo check --target <host triple>: every metadata-only compile (the program's and the proc macro's too) is a job; artifacts equal a plain check's",
  async () => {
    const triple = "x86_64-unknown-linux-gnu";
    const check = ["check", "--message-format=json", "--target", triple];
    await ws.cargoRun(["clean", "-q"]);
    const plain = await ws.cargoRun(check);
    const checkReference = ws.artifacts(triple);
    await ws.cargoRun(["clean", "-q"]);
    // Nothing from the builds before: the proc macro and build script would be hits.
    expect((await sb.run(["--clear"], sb.root)).exitCode).toBe(0);
    await sb.zeroStats();
    const built = await ws.cargoRun(check, { wrapper: true, env: { REPRISE_HERMETIC: "bwrap" } });
    const s = await sb.stats();
    // base, mid, app, tool and the proc macro are checked (--emit=metadata); cargo also links the proc macro and
    // the build script for the host: all seven are jobs.
    expect(s.hermetic?.bwrap ?? 0, `${JSON.stringify(s)}\n${daemonWarnings()}`).toBe(7);
    expect(fallbacks(s)).toEqual({});
    expectSameArtifacts(ws.artifacts(triple), checkReference, "hermetic check");
    expect(cargoMessages(built.all)).toEqual(cargoMessages(plain.all));
  },
  LONG,
);
