import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox, text } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { farmLogTail, farmStats } from "../support/farm-client.js";
import { LoopbackFarm } from "../support/loopback-farm.js";
import { makeThroughReprise, PlainMakeReference } from "../support/make-build.js";

/**
 * When every builder is busy, end to end on loopback (a scheduler, one bwrap
 * builder with a single job slot, client daemons): a build's miss keeps
 * waiting for the farm while the farm runs that client's own jobs, whose slots
 * come free in about a job's time, instead of compiling here after the short
 * allocation wait and taking a core the farm's builder needs (bench/farm.mjs,
 * scenario build); a miss that finds the farm busy with another client's jobs
 * only still falls back after that wait.
 */

// Shorter than one of these jobs (each compile takes a second or more): without waiting again, a queued job falls back.
const ALLOCATE_WAIT_MS = "300";
const UNITS = 3;

let farm: LoopbackFarm;
let other: RepriseSandbox;
let mine: RepriseSandbox;

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  // The held slot must stay held until its job ends: with the default 3 s, a loaded machine's client (load 14 in a fresh
  // clone's run) can take longer than that from its allocation to the builder, the scheduler takes the slot back as
  // unclaimed and gives it to the miss that should have found the farm busy.
  farm = await LoopbackFarm.start({
    builders: [{ id: "queue1", maxJobs: 1 }],
    dirName: "farm-queue",
    clientEnv: { REPRISE_LOG: "debug" },
    schedulerConfig: { unclaimedGraceMs: 60_000 },
  });
  other = new RepriseSandbox();
  // A client with no farm jobs of its own yet: the first test's client counts its jobs ended in the last 2 s as its own.
  mine = new RepriseSandbox({ REPRISE_LOG: "debug" });
}, 180_000);

afterAll(async () => {
  await other?.dispose();
  await mine?.dispose();
  await farm?.dispose();
});

/** A function of `lines` arithmetic lines: gcc -O2 takes about a second per 3000 here. */
function heavy(name: string, lines: number, salt: number): string {
  const body = Array.from({ length: lines }, (_, k) => `  x = x * ${((k + salt) % 7) + 3} + (x >> ${(k % 5) + 1}) ^ ${k};`);
  return [`int ${name}(int x) {`, ...body, "  return x;", "}", ""].join("\n");
}

/** `units` C files of a heavy function of `lines` lines each, and a Makefile building their objects and dep files. */
function writeProject(dir: string, units: number, salt: number, lines = 3000): string[] {
  mkdirSync(join(dir, "src"), { recursive: true });
  const outputs: string[] = [];
  const rules: string[] = [];
  for (let i = 0; i < units; i++) {
    writeFileSync(join(dir, "src", `u${i}.c`), heavy(`u${i}_${salt}`, lines, i + salt));
    outputs.push(`build/u${i}.o`, `build/u${i}.d`);
    rules.push(`build/u${i}.o: src/u${i}.c | build\n\t$(CC) -O2 -MMD -c $< -o $@\n`);
  }
  writeFileSync(join(dir, "Makefile"), `CC = gcc\nall: ${outputs.filter((o) => o.endsWith(".o")).join(" ")}\nbuild:\n\tmkdir -p build\n${rules.join("")}clean:\n\trm -rf build\n`);
  return outputs;
}

describe("a build's misses when every builder is busy", () => {
  it("wait while the farm runs the build's own jobs: every miss of make -j3 on one slot compiled remotely, byte-identical", async () => {
    const dir = join(farm.dir, "own");
    const outputs = writeProject(dir, UNITS, 1);
    const reference = await PlainMakeReference.build(dir, outputs, UNITS);
    await farm.sb.zeroStats();
    const r = await makeThroughReprise(farm.sb, dir, UNITS, farm.env({ REPRISE_DIST_ALLOCATE_TIMEOUT_MS: ALLOCATE_WAIT_MS }));
    expect(r.exitCode, text(r.stderr)).toBe(0);
    reference.expectSame("through the farm");
    const s = await farm.sb.stats();
    expect(s.fallbacks, farmLogTail(farm.sb)).toEqual({});
    expect(farmStats(s).compiles).toBe(UNITS);
  }, 300_000);

  it("fall back after the allocation wait when the farm is busy with another client's job only", async () => {
    const busyDir = join(farm.dir, "busy");
    // Three times this test's own unit (about 5 s here against 1.7 s): the slot must stay held until this
    // client's miss has waited and fallen back, even when its start is slow (a 3000-line job ended first once).
    writeProject(busyDir, 1, 2, 9000);
    const dir = join(farm.dir, "mine");
    writeProject(dir, 1, 3);
    const running = async () => (await farm.listed()).some((b) => b.runningJobs > 0);
    // This client's daemon started and its compiler known before the slot is taken, so that its miss below
    // reaches the farm within the other job's time (a fresh daemon's first call took 3.6 s once), then
    // longer than the 2 s in which a client still counts its own ended jobs as coming free.
    const warmDir = join(farm.dir, "mine-warm");
    writeProject(warmDir, 1, 4, 10);
    expect((await makeThroughReprise(mine, warmDir, 1, farm.env())).exitCode).toBe(0);
    await new Promise((res) => setTimeout(res, 2500));
    await mine.zeroStats();
    // The builder's count is the scheduler's view: wait until the first test's jobs have left it, so that
    // the count below is the other client's job.
    for (let i = 0; i < 300 && (await running()); i++) await new Promise((res) => setTimeout(res, 50));
    expect(await running(), "the first test's jobs still listed as running").toBe(false);
    // The other client's job holds the one slot (its wait is long: it must get the slot, not fall back).
    const holding = makeThroughReprise(other, busyDir, 1, farm.env({ REPRISE_DIST_ALLOCATE_TIMEOUT_MS: "20000" }));
    for (let i = 0; i < 300 && !(await running()); i++) await new Promise((res) => setTimeout(res, 50));
    const r = await makeThroughReprise(mine, dir, 1, farm.env({ REPRISE_DIST_ALLOCATE_TIMEOUT_MS: ALLOCATE_WAIT_MS }));
    expect(r.exitCode, text(r.stderr)).toBe(0);
    const s = await mine.stats();
    expect(s.fallbacks, farmLogTail(mine)).toEqual({ "dist-all-busy": 1 });
    expect(farmStats(s).compiles).toBe(0);
    const held = await holding;
    expect(held.exitCode, text(held.stderr)).toBe(0);
    expect(farmStats(await other.stats()).compiles).toBe(1);
  }, 300_000);
});
