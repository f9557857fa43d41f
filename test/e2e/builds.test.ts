import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fg from "fast-glob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox, clientCommand, plain, text } from "../support/reprise-env.js";
import { writeGeneratedProject } from "../support/generated-project.js";

let sb: RepriseSandbox;
let project: string;
let objects: string[];
const FILES = 30;
// Whole builds go through the client users run (the native one); the Node client has its own suites.
const launcher = clientCommand("native").join(" ");

beforeAll(() => {
  sb = new RepriseSandbox();
  project = join(sb.root, "proj");
  objects = writeGeneratedProject(project, FILES);
});

afterAll(async () => {
  await sb.dispose();
});

function readObjects(dir: string, list: string[]): Map<string, Buffer> {
  return new Map(list.map((o) => [o, readFileSync(join(dir, o))]));
}

function expectSameObjects(a: Map<string, Buffer>, b: Map<string, Buffer>, label: string) {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [name, data] of a) expect(b.get(name)!.equals(data), `${label}: ${name} byte-identical`).toBe(true);
}

describe.each([
  ["gcc", "g++"],
  ["clang", "clang++"],
])("make -j2 with %s/%s", (cc, cxx) => {
  it("cold and warm builds give the plain build's objects and dependency files; warm is all hits", async () => {
    const outputs = [...objects, ...objects.map((o) => `${o}.d`)];
    await plain("make", ["clean"], project);
    const ref = await plain("make", ["-j2", `CC=${cc}`, `CXX=${cxx}`], project);
    expect(ref.exitCode, text(ref.stderr)).toBe(0);
    const reference = readObjects(project, outputs);
    await sb.zeroStats();
    for (const round of ["cold", "warm"]) {
      await plain("make", ["clean"], project);
      const r = await plain("make", ["-j2", `CC=${launcher} ${cc}`, `CXX=${launcher} ${cxx}`], project, sb.env());
      expect(r.exitCode, text(r.stderr)).toBe(0);
      expectSameObjects(reference, readObjects(project, outputs), round);
    }
    const s = await sb.stats();
    expect(s.misses).toBe(FILES);
    expect(s.hitsDirect).toBe(FILES);
  });
});

describe("CMake with the compiler launcher", () => {
  it("builds with identical objects and serves a second build from the cache", async () => {
    const build = async (dir: string, withLauncher: boolean) => {
      const args = ["-S", project, "-B", dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"];
      if (withLauncher) args.push(`-DCMAKE_C_COMPILER_LAUNCHER=${clientCommand("native").join(";")}`, `-DCMAKE_CXX_COMPILER_LAUNCHER=${clientCommand("native").join(";")}`);
      const c = await plain("cmake", args, project, sb.env());
      expect(c.exitCode, text(c.stderr)).toBe(0);
      const b = await plain("cmake", ["--build", dir, "-j2"], project, sb.env());
      expect(b.exitCode, text(b.stderr) + text(b.stdout)).toBe(0);
      const objs = await fg("**/*.o", { cwd: dir });
      return new Map(objs.map((o) => [o, readFileSync(join(dir, o))]));
    };
    const buildDir = join(sb.root, "cmake-build");
    const reference = await build(buildDir, false);
    await plain("cmake", ["--build", buildDir, "--target", "clean"], project);
    await sb.zeroStats();
    expectSameObjects(reference, await build(buildDir, true), "cold");
    await plain("cmake", ["--build", buildDir, "--target", "clean"], project);
    expectSameObjects(reference, await build(buildDir, true), "warm");
    const s = await sb.stats();
    expect(s.misses).toBe(FILES);
    expect(s.hitsDirect).toBe(FILES);
  });
});

describe("two builds sharing one cache at once", () => {
  it("both succeed with the plain build's objects", async () => {
    const copies = ["share-a", "share-b"].map((n) => join(sb.root, n));
    // Same relative layout in two checkouts: each compiles its own copy.
    for (const c of copies) cpSync(project, c, { recursive: true });
    const refDir = join(sb.root, "share-ref");
    cpSync(project, refDir, { recursive: true });
    await plain("make", ["clean"], refDir);
    await plain("make", ["-j2", "CC=gcc", "CXX=g++"], refDir);
    for (const c of copies) await plain("make", ["clean"], c);
    const runs = await Promise.all(copies.map((c) => plain("make", ["-j2", `CC=${launcher} gcc`, `CXX=${launcher} g++`, "CFLAGS=-O2"], c, sb.env())));
    for (const r of runs) expect(r.exitCode, text(r.stderr)).toBe(0);
    await plain("make", ["clean"], refDir);
    await plain("make", ["-j2", "CC=gcc", "CXX=g++", "CFLAGS=-O2"], refDir);
    const reference = readObjects(refDir, objects);
    for (const c of copies) expectSameObjects(reference, readObjects(c, objects), c);
  });
});
