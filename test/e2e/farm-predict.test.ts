import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { expectSameAsPlain } from "../support/compare.js";
import { farmLogTail, farmStats } from "../support/farm-client.js";
import { LoopbackFarm } from "../support/loopback-farm.js";

/**
 * A source's first farm job without a closure scan (docs/dist-design.md,
 * "Farm-predict round"), end to end on loopback (a scheduler, a bwrap
 * builder, a client daemon): the job carries the files the gcc plugin
 * predicts from the include directives, and is taken only when the
 * compile's own dependency file and the absent-path check here agree; a
 * wrong prediction is scanned and run again. Every object and dependency
 * file is byte-identical to a plain compile.
 */

let farm: LoopbackFarm;
let client: RepriseSandbox;

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  farm = await LoopbackFarm.start({ builders: [{ id: "predict1" }], dirName: "farm-predict" });
  client = new RepriseSandbox({ REPRISE_LOG: "debug" });
}, 180_000);

afterAll(async () => {
  await client?.dispose();
  await farm?.dispose();
});

const ARGV = ["g++", "-O2", "-g", "-Ifirst", "-Isecond", "-MD", "-MF", "build/unit.d", "-c", "src/unit.cpp", "-o", "build/unit.o"];
const OUTPUTS = ["build/unit.o", "build/unit.d"];

/** A C++ project: the source includes <vector> and <cstdlib>, a header beside it that includes one in a subdirectory, and `value.h` from `second/` (after an empty `first/`). */
function project(name: string, source: string): string {
  const dir = join(farm.dir, name);
  for (const d of ["src/detail", "first", "second", "build"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "second", "value.h"), "#define VALUE 2\n");
  writeFileSync(join(dir, "src", "local.h"), '#include "detail/inner.h"\n#define LOCAL INNER\n');
  writeFileSync(join(dir, "src", "detail", "inner.h"), "#define INNER 1\n");
  writeFileSync(join(dir, "src", "unit.cpp"), source);
  return dir;
}

// <cstdlib> reaches glibc's <stdlib.h> by #include_next, past libstdc++'s own: the job must carry both for the check to hold.
const SOURCE = '#include <vector>\n#include <cstdlib>\n#include "local.h"\n#include <value.h>\nint unit() { std::vector<int> v(VALUE, LOCAL); return (int)v.size(); }\n';

/** One farm build of `dir` (a miss, then a hit), byte-identical to a plain compile; its stats and its job lines in the daemon's log. */
async function build(dir: string, label: string) {
  await client.zeroStats();
  await expectSameAsPlain(client, dir, ARGV, OUTPUTS, farm.env()).catch((err: Error) => {
    throw new Error(`${label}: ${err.message}\n${farmLogTail(client)}`);
  });
  const s = await client.stats();
  expect(s.fallbacks, `${label}\n${farmLogTail(client)}`).toEqual({});
  expect(s.misses, label).toBe(1);
  expect(farmStats(s).compiles, label).toBe(1);
  const lines = readFileSync(join(client.runtimeDir, "daemon.log"), "utf8")
    .split("\n")
    .filter((l) => l.includes(join(dir, "src", "unit.cpp")) && /farm job of|predicted files|remembered files/.test(l));
  // A scan runs for a job built without a closure ("closure from a scan") and for each rejected guess ("scanning and running it again").
  const scans = lines.filter((l) => l.includes("closure from a scan") || l.includes("scanning and running it again")).length;
  return { s, scans, lines: lines.join("\n") };
}

describe("a source's first farm job from the plugin's prediction (no scan), checked after the job", () => {
  it("a cold C++ job: the predicted files are carried, no scan runs, accepted; the next edit takes the remembered list", async () => {
    const dir = project("cold", SOURCE);
    const cold = await build(dir, "cold");
    expect(cold.s.speculation, farmLogTail(client)).toEqual({ predictionAccepted: 1 });
    expect(cold.scans, cold.lines).toBe(0);
    expect(cold.lines).toContain("closure from the compiler plugin's prediction");
    writeFileSync(join(dir, "second", "value.h"), "#define VALUE 3\n");
    const edited = await build(dir, "header edited");
    expect(edited.s.speculation, farmLogTail(client)).toEqual({ speculationAccepted: 1 });
    expect(edited.scans, edited.lines).toBe(0);
  }, 300_000);

  it("a computed include whose macro the plugin cannot see defined: the prediction lacks its header, the job fails there, rejected, scanned and run again", async () => {
    // The definition is continued onto a second line, which the plugin's directive reader does not follow: it takes CONFIG for undefined.
    const source = `#define \\\n  CONFIG "config.h"\n#include CONFIG\n${SOURCE.replace("LOCAL)", "LOCAL + CONFIGURED)")}`;
    const dir = project("computed", source);
    writeFileSync(join(dir, "src", "config.h"), "#define CONFIGURED 4\n");
    const cold = await build(dir, "computed include");
    expect(cold.s.speculation, farmLogTail(client)).toEqual({ "predictionRejected:failed": 1 });
    expect(cold.scans, cold.lines).toBe(1);
  }, 300_000);

  it("a computed include whose macro a header defines: no prediction, scanned as before", async () => {
    const dir = project("defined", `#include "config-name.h"\n#include CONFIG\n${SOURCE.replace("LOCAL)", "LOCAL + CONFIGURED)")}`);
    writeFileSync(join(dir, "src", "config-name.h"), '#define CONFIG "config.h"\n');
    writeFileSync(join(dir, "src", "config.h"), "#define CONFIGURED 4\n");
    const cold = await build(dir, "defined");
    expect(cold.s.speculation ?? {}, farmLogTail(client)).toEqual({});
    expect(cold.scans, cold.lines).toBe(1);
  }, 300_000);
});
