import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { expectSameAsPlain } from "../support/compare.js";
import { farmLogTail, farmStats } from "../support/farm-client.js";
import { LoopbackFarm } from "../support/loopback-farm.js";

/**
 * A compiler's first farm jobs do not wait for its equivalence probe when a
 * builder of the client's own platform can take them (docs/dist-design.md,
 * "Farm-timeline round"): end to end on loopback (a scheduler, a bwrap
 * builder, a client daemon), with a plugin named in the project's config
 * whose `portableToolchain` tap holds the probe until the test releases it
 * (at most 60 s), then lets gcc's answer. The job is allocated as if no
 * equivalence were known; its object is byte-identical to a plain compile.
 */

let farm: LoopbackFarm;
let client: RepriseSandbox;

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  farm = await LoopbackFarm.start({ builders: [{ id: "probe1" }], dirName: "farm-probe" });
  client = new RepriseSandbox({ REPRISE_LOG: "debug" });
}, 180_000);

afterAll(async () => {
  await client?.dispose();
  await farm?.dispose();
});

describe("the equivalence probe and a compiler's first farm jobs", () => {
  it("a job goes to a builder of this platform while the probe is still running; the object is byte-identical", async () => {
    const dir = join(farm.dir, "probe-held");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "unit.c"), "int unit(int x) { return x * 7 + 1; }\n");
    const marks = { started: join(dir, "probe-started"), release: join(dir, "probe-release"), answered: join(dir, "probe-answered") };
    writeFileSync(
      join(dir, "hold-probe.mjs"),
      `import { existsSync, writeFileSync } from "node:fs";
export default function holdProbe(marks) {
  return {
    name: "hold-probe",
    apply(engine) {
      engine.hooks.portableToolchain.tapPromise({ name: "hold-probe", stage: -100 }, async () => {
        writeFileSync(marks.started, "");
        for (let i = 0; i < 600 && !existsSync(marks.release); i++) await new Promise((r) => setTimeout(r, 100));
        writeFileSync(marks.answered, "");
        return undefined;
      });
    },
  };
}
`,
    );
    writeFileSync(join(dir, ".repriserc.json"), JSON.stringify({ plugins: ["@reprise/plugin-gcc", ["./hold-probe.mjs", marks]] }));
    // The daemon loads the plugins of the config where it starts.
    await client.run(["--stop-server"], dir);
    await client.run(["--start-server"], dir);
    await client.zeroStats();
    try {
      await expectSameAsPlain(client, dir, ["gcc", "-O2", "-c", "unit.c", "-o", "unit.o"], ["unit.o"], farm.env());
      const s = await client.stats();
      expect(s.fallbacks, farmLogTail(client)).toEqual({});
      expect(farmStats(s).compiles).toBe(1);
      expect(existsSync(marks.started), "the probe was asked").toBe(true);
      expect(existsSync(marks.answered), `the job waited for the probe\n${farmLogTail(client)}`).toBe(false);
    } finally {
      writeFileSync(marks.release, "");
    }
    for (let i = 0; i < 100 && !existsSync(marks.answered); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(marks.answered)).toBe(true);
  }, 240_000);
});
