/** The equivalence probe's answer kept across daemons (client/kept-equivalences.ts), with this machine's real gcc and its plugin's probe. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, Logger, type CompilerInfo, type EngineSetup } from "@reprise/core";

const silentLogger = new Logger("silent");
import { EquivalentJobs } from "../../src/client/equivalent-job.js";

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

describe("the equivalence probe's answer, kept in the cache directory", () => {
  it("a later daemon takes the kept answer for the same compiler and toolchain, and probes again for another toolchain or cache", async () => {
    const cache = join(dir, "cache");
    const first = await new EquivalentJobs(setup.engine).portable(gcc, "toolchain-a", cache, silentLogger);
    expect(first?.equivalence).toMatch(/^[0-9a-f]{64}$/);
    expect(probes).toBe(1);
    // A new daemon (a new EquivalentJobs) with the same cache directory: no probe.
    const again = await new EquivalentJobs(setup.engine).portable(gcc, "toolchain-a", cache, silentLogger);
    expect(again).toEqual(first);
    expect(probes).toBe(1);
    // Another toolchain archive (a file of the toolchain changed: the assembler, a library) is probed again.
    await new EquivalentJobs(setup.engine).portable(gcc, "toolchain-b", cache, silentLogger);
    expect(probes).toBe(2);
    // Another compiler identity, and another cache directory, too.
    await new EquivalentJobs(setup.engine).portable({ ...gcc, identity: `${gcc.identity}-changed` }, "toolchain-a", cache, silentLogger);
    expect(probes).toBe(3);
    await new EquivalentJobs(setup.engine).portable(gcc, "toolchain-a", join(dir, "other-cache"), silentLogger);
    expect(probes).toBe(4);
  }, 120_000);

  it("a damaged kept answer is probed again, and replaced", async () => {
    const cache = join(dir, "damaged");
    const first = await new EquivalentJobs(setup.engine).portable(gcc, "toolchain-a", cache, silentLogger);
    const before = probes;
    const kept = join(cache, "dist", "equivalences");
    for (const f of readdirSync(kept)) writeFileSync(join(kept, f), "{ not json");
    expect(await new EquivalentJobs(setup.engine).portable(gcc, "toolchain-a", cache, silentLogger)).toEqual(first);
    expect(probes).toBe(before + 1);
    expect(await new EquivalentJobs(setup.engine).portable(gcc, "toolchain-a", cache, silentLogger)).toEqual(first);
    expect(probes).toBe(before + 1);
  }, 120_000);
});
