import { describe, expect, it } from "vitest";
import { argumentDifferences, describeDifferences } from "../../src/explain/compare-descriptions.js";
import type { KeyDescription } from "../../src/explain/key-description.js";

const cached: KeyDescription = {
  source: "/p/src/a.c",
  sourceHash: "s1",
  compilerPath: "/usr/bin/gcc",
  compilerIdentity: "gcc-12.2-abc",
  family: "gcc",
  language: "c",
  mode: "direct",
  args: ["-Iinclude", "-O2", "-c"],
  env: { SOURCE_DATE_EPOCH: null, CPATH: "/p/inc" },
  cwd: "/p/src",
  colorDiagnostics: false,
  extraInputs: [],
  headers: [
    { path: "/p/src/include/a.h", hash: "h1" },
    { path: "/usr/include/stdio.h", hash: "h2" },
  ],
  recordedAt: 0,
};
const now: KeyDescription = { ...cached, headers: undefined };
const unchanged = new Map<string, string | null>([
  ["/p/src/include/a.h", "h1"],
  ["/usr/include/stdio.h", "h2"],
]);

describe("describeDifferences", () => {
  it("finds nothing between a call and its own entry", () => {
    expect(describeDifferences(now, cached, unchanged, {}, "2026-01-01")).toEqual([]);
  });

  it("names the compiler, the cwd, the env and a changed or removed header", () => {
    const call: KeyDescription = { ...now, compilerIdentity: "gcc-13", cwd: "/q/src", env: { SOURCE_DATE_EPOCH: "5", CPATH: "/p/inc" } };
    const hashes = new Map<string, string | null>([
      ["/p/src/include/a.h", "h9"],
      ["/usr/include/stdio.h", null],
    ]);
    expect(describeDifferences(call, cached, hashes, {}, "2026-01-01")).toEqual([
      "the compiler /usr/bin/gcc is not the one of the cached entry (its identity changed: upgraded, rebuilt or replaced)",
      'environment variable SOURCE_DATE_EPOCH differs (now "5", in the cached entry unset)',
      "the working directory differs (now /q/src, cached entry /p/src); it is part of the key in direct mode",
      "/p/src/include/a.h changed since the cached entry (content differs)",
      "/usr/include/stdio.h no longer exists (the cached entry read it)",
    ]);
  });

  it("names a variable the dependency file declared and a dated entry of another day", () => {
    const dated: KeyDescription = { ...cached, depEnv: [{ name: "MY_VERSION", value: "1" }], date: "2025-12-31" };
    expect(describeDifferences(now, dated, unchanged, { MY_VERSION: "2" }, "2026-01-01")).toEqual([
      'environment variable MY_VERSION differs from the cached entry\'s (now "2", in the cached entry "1"); the compile declared it as an input',
      "the cached entry uses __DATE__ or __TIMESTAMP__ and was made on 2025-12-31: it only serves that day",
    ]);
  });
});

describe("argumentDifferences", () => {
  it("pairs values of the same option and lists the rest as new or gone", () => {
    expect(argumentDifferences(["-O3", "-DX=2", "-g", "-c"], ["-O2", "-DX=1", "-Wall", "-c"])).toEqual([
      "argument -O3 differs (cached entry had -O2)",
      "argument -DX=2 differs (cached entry had -DX=1)",
      "argument -g is new (the cached entry was compiled without it)",
      "argument -Wall is gone (the cached entry had it)",
    ]);
  });

  it("pairs the values of rustc's -C options", () => {
    expect(argumentDifferences(["-C", "opt-level=2"], ["-C", "opt-level=0"])).toEqual(["argument opt-level=2 differs (cached entry had opt-level=0)"]);
  });

  it("notices a reordering (include order matters)", () => {
    expect(argumentDifferences(["-Ib", "-Ia"], ["-Ia", "-Ib"])).toEqual(["argument -Ib is in another place than in the cached entry (the order of arguments matters, e.g. for -I)"]);
  });
});
