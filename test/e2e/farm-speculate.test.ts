import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { expectSameAsPlain } from "../support/compare.js";
import { farmLogTail, farmStats } from "../support/farm-client.js";
import { LoopbackFarm } from "../support/loopback-farm.js";

/**
 * Farm jobs without a closure scan (docs/dist-design.md, "Speculative
 * jobs"), end to end on loopback (a scheduler, a bwrap builder, a client
 * daemon): a `-g` miss whose source was compiled on the farm before carries
 * the files that job read; its result is taken only when the compile's own
 * dependency file and the absent-path check here agree, else the job is
 * scanned and run again. Every object is byte-identical to a plain compile.
 */

let farm: LoopbackFarm;
let client: RepriseSandbox;

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  farm = await LoopbackFarm.start({ builders: [{ id: "spec1" }], dirName: "farm-speculate" });
  client = new RepriseSandbox({ REPRISE_LOG: "debug" });
}, 180_000);

afterAll(async () => {
  await client?.dispose();
  await farm?.dispose();
});

const ARGV = ["gcc", "-O2", "-g", "-Ifirst", "-Isecond", "-c", "src/unit.c", "-o", "build/unit.o"];

/** A project whose source includes `value.h` (found in `second/`, after an empty `first/`) and <stdio.h>. */
function project(name: string): string {
  const dir = join(farm.dir, name);
  for (const d of ["src", "first", "second", "build"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "second", "value.h"), "#define VALUE 2\n");
  writeFileSync(join(dir, "src", "unit.c"), '#include <stdio.h>\n#include "value.h"\nint unit(void) { return VALUE + (int)sizeof(FILE); }\n');
  return dir;
}

/** One farm build of `dir` (a miss, then a hit), byte-identical to a plain compile; its stats. */
async function build(dir: string, label: string) {
  await client.zeroStats();
  const { ref } = await expectSameAsPlain(client, dir, ARGV, ["build/unit.o"], farm.env()).catch((err: Error) => {
    throw new Error(`${label}: ${err.message}\n${farmLogTail(client)}`);
  });
  const s = await client.stats();
  expect(s.fallbacks, `${label}\n${farmLogTail(client)}`).toEqual({});
  expect(s.misses, label).toBe(1);
  return { s, object: ref.files["build/unit.o"]! };
}

/** The daemon's log lines about `dir`'s jobs. */
function jobLines(dir: string): string[] {
  return readFileSync(join(client.runtimeDir, "daemon.log"), "utf8")
    .split("\n")
    .filter((l) => l.includes(join(dir, "src", "unit.c")) && /farm job of|remembered files/.test(l));
}

describe("farm jobs from a remembered closure (no scan), checked after the job", () => {
  it("a header's content edited: the job carries the remembered files at their new digests, no scan, accepted", async () => {
    const dir = project("header-edit");
    const cold = await build(dir, "cold");
    expect(cold.s.speculation ?? {}, "nothing remembered yet: the plugin's prediction (test/e2e/farm-predict.test.ts)").toEqual({ predictionAccepted: 1 });
    expect(farmStats(cold.s).compiles).toBe(1);
    writeFileSync(join(dir, "second", "value.h"), "#define VALUE 3\n");
    const edited = await build(dir, "header edited");
    expect(edited.s.speculation, farmLogTail(client)).toEqual({ speculationAccepted: 1 });
    expect(farmStats(edited.s).compiles).toBe(1);
    expect(edited.object.equals(cold.object), "the edit changed the object").toBe(false);
    const lines = jobLines(dir);
    expect(lines.filter((l) => l.includes("closure from a scan")).length, lines.join("\n")).toBe(0);
    expect(lines.filter((l) => l.includes("closure from the compiler plugin's prediction")).length, lines.join("\n")).toBe(1);
    expect(lines.filter((l) => l.includes("closure from this source's last job")).length, lines.join("\n")).toBe(1);
    // Each job's store takes the plan its check made of the same files instead of working it out again.
    const plans = readFileSync(join(client.runtimeDir, "daemon.log"), "utf8").split("\n").filter((l) => l.includes(join(dir, "src", "unit.c")) && l.includes("absent-path guards"));
    expect(plans.length, plans.join("\n")).toBe(2);
    expect(plans.every((l) => l.includes("(the speculation check's plan)")), plans.join("\n")).toBe(true);
  }, 300_000);

  it("the source edited to include a header the remembered closure lacks: rejected (the job failed), scanned and run again", async () => {
    const dir = project("new-include");
    await build(dir, "cold");
    writeFileSync(join(dir, "second", "extra.h"), "#define EXTRA 5\n");
    writeFileSync(join(dir, "src", "unit.c"), '#include <stdio.h>\n#include "value.h"\n#include "extra.h"\nint unit(void) { return VALUE + EXTRA + (int)sizeof(FILE); }\n');
    const edited = await build(dir, "new include");
    expect(edited.s.speculation, farmLogTail(client)).toEqual({ "speculationRejected:failed": 1 });
    expect(farmStats(edited.s).compiles).toBe(1);
    // The scanned job's list is remembered in turn: the next edit of the source is accepted.
    writeFileSync(join(dir, "src", "unit.c"), '#include <stdio.h>\n#include "value.h"\n#include "extra.h"\nint unit(void) { return VALUE * EXTRA + (int)sizeof(FILE); }\n');
    const again = await build(dir, "source edited again");
    expect(again.s.speculation, farmLogTail(client)).toEqual({ speculationAccepted: 1 });
  }, 300_000);

  it("a header appears in an earlier include directory, shadowing the one the remembered closure names: rejected, scanned and run again", async () => {
    const dir = project("shadow");
    const cold = await build(dir, "cold");
    // Found first now; the remembered closure names second/value.h only, so the builder could not see this one.
    writeFileSync(join(dir, "first", "value.h"), "#define VALUE 1\n");
    const shadowed = await build(dir, "shadowed");
    expect(shadowed.s.speculation, farmLogTail(client)).toEqual({ "speculationRejected:shadowed": 1 });
    expect(farmStats(shadowed.s).compiles).toBe(1);
    expect(shadowed.object.equals(cold.object), "the shadowing header changed the object").toBe(false);
  }, 300_000);
});
