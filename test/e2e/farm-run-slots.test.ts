import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { text } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { farmLogTail, farmStats } from "../support/farm-client.js";
import { LoopbackFarm } from "../support/loopback-farm.js";
import { makeThroughReprise, PlainMakeReference } from "../support/make-build.js";

/**
 * A builder that accepts more jobs than it runs (maxJobs 2, maxRunningJobs 1), end to end on loopback: the
 * scheduler gives it both jobs of a make -j2, the second's inputs arrive while the first compiles, and its compile
 * starts only when the first's has ended (two compiles sharing one core cost more CPU than the two in turn).
 */

const UNITS = 2;
let farm: LoopbackFarm;

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  farm = await LoopbackFarm.start({ builders: [{ id: "slots1", maxJobs: 2, extra: { maxRunningJobs: 1, logLevel: "debug" } }], dirName: "farm-run-slots" });
}, 180_000);

afterAll(async () => {
  await farm?.dispose();
});

/** A C function of `lines` arithmetic lines: gcc -O2 takes about a second per 3000 here. */
function heavy(name: string, lines: number): string {
  const body = Array.from({ length: lines }, (_, k) => `  x = x * ${(k % 7) + 3} + (x >> ${(k % 5) + 1}) ^ ${k};`);
  return [`int ${name}(int x) {`, ...body, "  return x;", "}", ""].join("\n");
}

/** The builder's record of each job it ran: when it reached the runner, started compiling and ended (epoch ms). */
function jobSpans(output: string): { arrived: number; started: number; ended: number }[] {
  return [...output.matchAll(/job \S+: .* queued (\d+) ms, ran (\d+) ms \(ended at (\d+)\)/g)].map((m) => {
    const [queued, ran, ended] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return { arrived: ended - ran - queued, started: ended - ran, ended };
  });
}

describe("a builder with more job slots than running slots", () => {
  it("takes both jobs of make -j2 but compiles them one after the other, byte-identical", async () => {
    const dir = join(farm.dir, "proj");
    mkdirSync(join(dir, "src"), { recursive: true });
    const outputs: string[] = [];
    const rules: string[] = [];
    for (let i = 0; i < UNITS; i++) {
      writeFileSync(join(dir, "src", `u${i}.c`), heavy(`u${i}`, 6000));
      outputs.push(`build/u${i}.o`, `build/u${i}.d`);
      rules.push(`build/u${i}.o: src/u${i}.c | build\n\t$(CC) -O2 -MMD -c $< -o $@\n`);
    }
    writeFileSync(join(dir, "Makefile"), `CC = gcc\nall: ${outputs.filter((o) => o.endsWith(".o")).join(" ")}\nbuild:\n\tmkdir -p build\n${rules.join("")}clean:\n\trm -rf build\n`);
    const reference = await PlainMakeReference.build(dir, outputs, UNITS);
    const r = await makeThroughReprise(farm.sb, dir, UNITS, farm.env());
    expect(r.exitCode, text(r.stderr)).toBe(0);
    reference.expectSame("through the farm");
    const s = await farm.sb.stats();
    expect(s.fallbacks, farmLogTail(farm.sb)).toEqual({});
    expect(farmStats(s).compiles).toBe(UNITS);
    const builderLog = farm.builders[0]!.output();
    const [first, second] = jobSpans(builderLog).sort((a, b) => a.ended - b.ended);
    expect(second, builderLog.slice(-3000)).toBeDefined();
    // Both jobs were on the builder at once (the test shows nothing otherwise) ...
    expect(second!.arrived, "the second job reached the builder only after the first had ended").toBeLessThan(first!.ended);
    // ... and the second's compile began only when the first's had ended (the log line is written just after).
    expect(second!.started).toBeGreaterThanOrEqual(first!.ended - 50);
  }, 300_000);
});
