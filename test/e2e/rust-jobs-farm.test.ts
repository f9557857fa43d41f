import { afterAll, beforeAll, expect, it } from "vitest";
import type { RepriseSandbox } from "../support/reprise-env.js";
import { findCargo, RUSTC_PLUGIN } from "../support/rust-workspace.js";
import { expectSameArtifacts, fallbacks, LIBRARY_CRATES, LINKED_CRATES, RustJobsWorkspace, type PlainReference } from "../support/rust-jobs-workspace.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { LoopbackFarm } from "../support/loopback-farm.js";

/**
 * Rust compiles on a build farm on loopback (the real scheduler and a bwrap
 * builder, as test/e2e/farm.test.ts runs them): cargo with
 * RUSTC_WRAPPER=reprise sends each library crate to the builder with rustc's
 * toolchain archive and the crate's closure; linked crates stay local
 * (`dist-not-distributable-links`). Artifacts equal a plain build's, byte
 * for byte; a second cold build uploads nothing (the builder holds the
 * toolchain and every blob).
 */

const cargo = findCargo();
const LONG = 900_000;
let farm: LoopbackFarm;
let sb: RepriseSandbox;
let ws: RustJobsWorkspace;
let reference: PlainReference;

const farmEnv = () => farm.env();
const daemonLog = () => sb.daemonLogTail(12);

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  if (!cargo) throw new Error("cargo not found: install rustup's stable toolchain (README)");
  farm = await LoopbackFarm.start({ clientEnv: { REPRISE_PLUGINS: RUSTC_PLUGIN }, builders: [{ id: "rust-b1" }] });
  sb = farm.sb;
  ws = new RustJobsWorkspace(sb, cargo);
  reference = await ws.plainReference();
}, LONG);

afterAll(async () => {
  await farm?.dispose();
});

it(
  "library crates compile on the builder, linked ones locally (dist-not-distributable-links); artifacts equal a plain build's",
  async () => {
    const { built, stats: s } = await ws.cleanBuildThroughReprise(farmEnv());
    expect(s.remote?.farm?.compiles ?? 0, `remote compiles; fallbacks ${JSON.stringify(s.fallbacks)}\n${daemonLog()}`).toBe(LIBRARY_CRATES.length);
    expect(fallbacks(s)).toEqual({ "dist-not-distributable-links": LINKED_CRATES.length });
    expect(s.remote!.farm!.bytesUploaded).toBeGreaterThan(0);
    await ws.expectSameAs(reference, built, "farm build");
  },
  LONG,
);

it(
  "a second cold build (cache cleared) sends every library crate again in one round trip each and uploads nothing",
  async () => {
    const cleared = await sb.run(["--clear"], sb.root);
    expect(cleared.exitCode).toBe(0);
    const { stats: s } = await ws.cleanBuildThroughReprise(farmEnv());
    expect(s.remote?.farm?.compiles ?? 0, daemonLog()).toBe(LIBRARY_CRATES.length);
    expect(s.remote!.farm!.bytesUploaded).toBe(0);
    expect(s.remote!.farm!.roundTrips).toBe(LIBRARY_CRATES.length);
    expectSameArtifacts(ws.artifacts(), reference.artifacts, "second farm build");
  },
  LONG,
);
