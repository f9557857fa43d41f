import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RepriseSandbox, type StatsJson } from "../support/reprise-env.js";
import { startBuilder, startScheduler, type FarmProcess, type SchedulerHandle } from "../support/farm-processes.js";
import { findCargo, RUSTC_PLUGIN, type Artifact } from "../support/rust-workspace.js";
import { cargoMessages, expectSameArtifacts, fallbacks, LIBRARY_CRATES, LINKED_CRATES, RustJobsWorkspace } from "../support/rust-jobs-workspace.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";

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
let sb: RepriseSandbox;
let sched: SchedulerHandle;
let builder: FarmProcess;
let ws: RustJobsWorkspace;
let reference: Map<string, Artifact>;
let referenceMessages: string[];
let referenceRun: string;

function farmEnv(): Record<string, string> {
  return { REPRISE_DIST_SCHEDULER_URL: sched.url, REPRISE_DIST_TOKEN: sched.clientToken, REPRISE_DIST_MODE: "always" };
}

async function waitForBuilder(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await request(`${sched.url}/v1/status`, { headers: { authorization: `Bearer ${sched.clientToken}`, "x-reprise-dist-protocol": "2" } });
    const body = (await r.body.json()) as { pools: { builders: unknown[] }[] };
    if (body.pools.reduce((k, p) => k + p.builders.length, 0) >= 1) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the builder did not register");
}

function daemonLog(): string {
  try {
    return readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8").split("\n").slice(-12).join("\n");
  } catch {
    return "(no daemon log)";
  }
}

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  if (!cargo) throw new Error("cargo not found: install rustup's stable toolchain (README)");
  sb = new RepriseSandbox({ REPRISE_PLUGINS: RUSTC_PLUGIN });
  const farmDir = join(sb.root, "farm");
  mkdirSync(farmDir, { recursive: true });
  sched = await startScheduler();
  builder = await startBuilder({ schedulerUrl: sched.url, token: sched.builderToken, builderId: "rust-b1", dataDir: join(farmDir, "b1") });
  await waitForBuilder();
  ws = new RustJobsWorkspace(sb, cargo);
  const plain = await ws.cleanBuild();
  reference = ws.artifacts();
  referenceMessages = cargoMessages(plain.all);
  referenceRun = await ws.runTool();
}, LONG);

afterAll(async () => {
  await sb?.dispose();
  await builder?.kill();
  await sched?.kill();
});

it(
  "library crates compile on the builder, linked ones locally (dist-not-distributable-links); artifacts equal a plain build's",
  async () => {
    await sb.zeroStats();
    const built = await ws.cleanBuild({ wrapper: true, env: farmEnv() });
    const s: StatsJson = await sb.stats();
    expect(s.remote?.farm?.compiles ?? 0, `remote compiles; fallbacks ${JSON.stringify(s.fallbacks)}\n${daemonLog()}`).toBe(LIBRARY_CRATES.length);
    expect(fallbacks(s)).toEqual({ "dist-not-distributable-links": LINKED_CRATES.length });
    expect(s.remote!.farm!.bytesUploaded).toBeGreaterThan(0);
    expectSameArtifacts(ws.artifacts(), reference, "farm build");
    expect(cargoMessages(built.all)).toEqual(referenceMessages);
    expect(await ws.runTool()).toBe(referenceRun);
  },
  LONG,
);

it(
  "a second cold build (cache cleared) sends every library crate again in one round trip each and uploads nothing",
  async () => {
    const cleared = await sb.run(["--clear"], sb.root);
    expect(cleared.exitCode).toBe(0);
    await sb.zeroStats();
    await ws.cleanBuild({ wrapper: true, env: farmEnv() });
    const s = await sb.stats();
    expect(s.remote?.farm?.compiles ?? 0, daemonLog()).toBe(LIBRARY_CRATES.length);
    expect(s.remote!.farm!.bytesUploaded).toBe(0);
    expect(s.remote!.farm!.roundTrips).toBe(LIBRARY_CRATES.length);
    expectSameArtifacts(ws.artifacts(), reference, "second farm build");
  },
  LONG,
);
