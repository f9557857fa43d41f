/**
 * The equivalence probe's answer kept across daemons (client/kept-equivalences.ts, client/equivalent-job.ts), with
 * this machine's real gcc and its plugin's probe: a kept answer stands only for the toolchain archive it was probed
 * with. (End to end, with daemons and a farm: test/e2e/farm-probe-kept.test.ts.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, Logger, type CompilerInfo, type EngineSetup } from "@reprise/core";
import { EquivalentJobs } from "../../src/client/equivalent-job.js";
import { keptEquivalences } from "../../src/client/kept-equivalences.js";

const silentLogger = new Logger("silent");
const dir = mkdtempSync(join(tmpdir(), "reprise-equivalences-"));
let setup: EngineSetup;
let gcc: CompilerInfo;
/** How many times the engine asked its plugins (a tap ahead of gcc's that only counts, then lets gcc's answer). */
let probes = 0;

beforeAll(async () => {
  setup = await createEngine({ cwd: dir, env: { PATH: "/usr/bin:/bin" } });
  gcc = (await setup.detector.detect("/usr/bin/gcc", { PATH: "/usr/bin:/bin" }))!;
  setup.engine.hooks.portableToolchain.tap({ name: "count", stage: -100 }, () => {
    probes++;
    return undefined;
  });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A new daemon's answer for gcc with the toolchain archive `toolchainId`, its kept answers in `cache`. */
async function daemonAnswer(cache: string, toolchainId: string, compiler: CompilerInfo = gcc) {
  const kept = keptEquivalences(cache);
  const answer = await new EquivalentJobs(setup.engine).portable(compiler, silentLogger, kept)!.answer(toolchainId);
  kept.flush();
  return answer;
}

describe("the equivalence probe's answer, kept in the cache directory", () => {
  it("is taken by a later daemon for the same toolchain archive, and probed again for another", async () => {
    const cache = join(dir, "cache");
    const first = await daemonAnswer(cache, "toolchain-a");
    expect(first?.equivalence).toMatch(/^[0-9a-f]{64}$/);
    expect(probes).toBe(1);
    expect(await daemonAnswer(cache, "toolchain-a")).toEqual(first);
    expect(probes).toBe(1);
    // Another archive for the same compiler (the assembler or a library changed): probed again, and that answer kept.
    expect(await daemonAnswer(cache, "toolchain-b")).toEqual(first);
    expect(probes).toBe(2);
    expect(await daemonAnswer(cache, "toolchain-b")).toEqual(first);
    expect(probes).toBe(2);
    // Another compiler identity, and another cache directory.
    await daemonAnswer(cache, "toolchain-b", { ...gcc, identity: `${gcc.identity}-changed` });
    expect(probes).toBe(3);
    await daemonAnswer(join(dir, "other-cache"), "toolchain-b");
    expect(probes).toBe(4);
  }, 120_000);

  it("is probed again within a daemon when the compiler's archive changes", async () => {
    const cache = join(dir, "in-daemon");
    const before = probes;
    const jobs = new EquivalentJobs(setup.engine);
    const kept = keptEquivalences(cache);
    const probe = jobs.portable(gcc, silentLogger, kept)!;
    const [a, b] = await Promise.all([probe.answer("toolchain-a"), probe.answer("toolchain-a")]);
    expect(b).toEqual(a);
    expect(probes).toBe(before + 1);
    expect(await jobs.portable(gcc, silentLogger, kept)!.answer("toolchain-c")).toEqual(a);
    expect(probes).toBe(before + 2);
    kept.flush();
    expect(await daemonAnswer(cache, "toolchain-c")).toEqual(a);
    expect(probes).toBe(before + 2);
  }, 120_000);
});
