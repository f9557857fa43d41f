/**
 * cargo with RUSTC_WRAPPER=reprise on a loopback farm whose builder provides
 * Rust by descriptor: the daemon (plugin-rustc's jobs, plugin-rustup's
 * descriptor) sends each library crate with `rustc:<release>:<commit>:<target>:<std>`
 * instead of rustc's 170 MiB archive; the builder, with an empty
 * RUSTUP_HOME, installs the user's stable release from a rustup distribution
 * server on loopback and compiles. Artifacts equal a plain build's, byte for
 * byte; no toolchain is uploaded.
 */
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { REPO_ROOT, type RepriseSandbox } from "../support/reprise-env.js";
import type { FarmProcess } from "../support/farm-processes.js";
import { findCargo, RUSTC_PLUGIN, type Artifact } from "../support/rust-workspace.js";
import { expectSameArtifacts, fallbacks, LIBRARY_CRATES, LINKED_CRATES, RustJobsWorkspace } from "../support/rust-jobs-workspace.js";
import { rustupDistTree, startDistServer, type DistServer } from "../support/rustup-dist-server.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { LoopbackFarm } from "../support/loopback-farm.js";

const RUSTUP_PLUGIN = join(REPO_ROOT, "packages/plugin-rustup/dist/bundle/index.js");
const RUSTUP = join(process.env.HOME ?? "/root", ".cargo/bin/rustup");
const cargo = findCargo();
const LONG = 900_000;
let farm: LoopbackFarm;
let sb: RepriseSandbox;
let builder: FarmProcess;
let dist: DistServer;
let ws: RustJobsWorkspace;
let reference: Map<string, Artifact>;

const builders = () => farm.listed();

/** Stops the builder, waits until the scheduler lists none, then starts the next one (`id`, `rust` in its config) and waits for it. */
async function replaceBuilder(id: string, rust?: Record<string, unknown>): Promise<void> {
  await builder.kill();
  await farm.waitForBuilders(0);
  builder = await farm.startBuilder({ id, ...(rust ? { extra: { rust } } : {}) });
  await farm.waitForBuilders(1);
}

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  if (!cargo) throw new Error("cargo not found: install rustup's stable toolchain (README)");
  dist = await startDistServer(rustupDistTree());
  farm = await LoopbackFarm.start({
    clientEnv: { REPRISE_PLUGINS: `${RUSTC_PLUGIN},${RUSTUP_PLUGIN}` },
    builders: [{ id: "rustup-b1", extra: { rust: { rustup: { rustup: RUSTUP, distServer: dist.url, timeoutMs: 300_000 } } } }],
  });
  ({ sb } = farm);
  builder = farm.builders[0]!;
  ws = new RustJobsWorkspace(sb, cargo);
  await ws.cleanBuild();
  reference = ws.artifacts();
}, LONG);

afterAll(async () => {
  await farm?.dispose();
  await dist?.close();
});

it(
  "every crate compiles on a builder that installs the toolchain with rustup (linked ones with its cc, the same linker as here); nothing of the toolchain is uploaded; artifacts equal a plain build's",
  async () => {
    const { stats: s } = await ws.cleanBuildThroughReprise(farm.env({ REPRISE_DIST_JOB_TIMEOUT_MS: "600000" }));
    const log = sb.daemonLogTail(15);
    expect(s.remote?.farm?.compiles ?? 0, `remote compiles; fallbacks ${JSON.stringify(s.fallbacks)}\n${log}\n${builder.output().slice(-3000)}`).toBe(LIBRARY_CRATES.length + LINKED_CRATES.length);
    expect(fallbacks(s)).toEqual({});
    // Only the crates' own inputs travel (sources, the dependency rmeta files): rustc's archive alone is 170 MiB.
    expect(s.remote!.farm!.bytesUploaded).toBeGreaterThan(0);
    expect(s.remote!.farm!.bytesUploaded).toBeLessThan(16 * 1024 * 1024);
    expectSameArtifacts(ws.artifacts(), reference, "farm build through rustup");
    const release = /^release: (.*)$/m.exec(execFileSync(join(process.env.HOME ?? "/root", ".rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc"), ["-vV"], { encoding: "utf8" }))![1]!;
    expect(builder.output()).toContain(`rustup toolchain install ${release} --profile minimal --no-self-update`);
    expect(dist.requests).toContain(`/dist/channel-rust-${release}.toml`);
    // The builder tells the scheduler what it holds with its next heartbeat: wait for one (bounded).
    let held: string[] = [];
    for (let i = 0; i < 100 && held.length === 0; i++) {
      held = ((await builders())[0]?.toolchains ?? []).filter((t) => t.startsWith(`rustc:${release}:`));
      if (held.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(held.length, "the scheduler never learnt that the builder holds the installed toolchain").toBeGreaterThan(0);
  },
  LONG,
);

it(
  "with no builder able to provide the descriptor, the toolchain goes as an archive, and the libraries still compile on the farm (linked crates, which need a builder's linker, here: dist-no-builder)",
  async () => {
    await replaceBuilder("plain-b2");
    const cleared = await sb.run(["--clear"], sb.root);
    expect(cleared.exitCode).toBe(0);
    const { stats: s } = await ws.cleanBuildThroughReprise(farm.env({ REPRISE_DIST_JOB_TIMEOUT_MS: "600000" }));
    expect(s.remote?.farm?.compiles ?? 0, `fallbacks ${JSON.stringify(s.fallbacks)}`).toBe(LIBRARY_CRATES.length);
    expect(fallbacks(s)).toEqual({ "dist-no-builder": LINKED_CRATES.length });
    // rustc's archive travelled this time.
    expect(s.remote!.farm!.bytesUploaded).toBeGreaterThan(64 * 1024 * 1024);
    expectSameArtifacts(ws.artifacts(), reference, "farm build with the toolchain as an archive");
  },
  LONG,
);

it(
  "a builder whose rustup server is down: each crate compiles here, counted dist-toolchain-unavailable, with the server named in the daemon's log",
  async () => {
    const down = await startDistServer(sb.root);
    const url = down.url;
    await down.close();
    await replaceBuilder("rustup-down", { rustup: { rustup: RUSTUP, distServer: url, timeoutMs: 60_000 } });
    expect((await sb.run(["--clear"], sb.root)).exitCode).toBe(0);
    const { stats: s } = await ws.cleanBuildThroughReprise(farm.env());
    expect(s.remote?.farm?.compiles ?? 0).toBe(0);
    expect(fallbacks(s)).toEqual({ "dist-toolchain-unavailable": LIBRARY_CRATES.length + LINKED_CRATES.length });
    expectSameArtifacts(ws.artifacts(), reference, "local fallback when the builder cannot install");
    const log = readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8");
    expect(log).toContain(`the rustup distribution server ${url} cannot be reached`);
  },
  LONG,
);
