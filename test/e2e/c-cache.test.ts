import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

let sb: RepriseSandbox;
let w: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "src");
  mkdirSync(join(w, "include"), { recursive: true });
  writeFileSync(join(w, "include/config.h"), "#define ANSWER 42\n");
  writeFileSync(
    join(w, "hello.c"),
    '#include <stdio.h>\n#include "config.h"\nint unused_var;\nint main(void) { int x; printf("%s:%d %d\\n", __FILE__, __LINE__, ANSWER); return 0; }\n',
  );
  writeFileSync(
    join(w, "vec.cpp"),
    '#include <vector>\n#include <string>\n#include <map>\n#include "config.h"\nstd::map<std::string, std::vector<int>> m;\nint f() { m["a"].push_back(ANSWER); return (int)m.size(); }\n',
  );
  writeFileSync(join(w, "warn.c"), "int f(int a) { int unused; if (a = 1) return 2; }\n");
  writeFileSync(join(w, "broken.c"), "int f( { return 1 }\n");
});

afterAll(async () => {
  await sb.dispose();
});

describe.each([
  ["gcc", "hello.c"],
  ["g++", "vec.cpp"],
  ["clang", "hello.c"],
  ["clang++", "vec.cpp"],
])("%s %s", (cc, src) => {
  const obj = src.replace(/\.\w+$/, ".o");
  it("hit and miss give the plain compile's object, with debug info", async () => {
    await expectSameAsPlain(sb, w, [cc, "-g", "-O2", "-Iinclude", "-c", src, "-o", obj], [obj]);
  });
  it("dependency files from -MD -MF -MT are restored exactly", async () => {
    await expectSameAsPlain(sb, w, [cc, "-O1", "-Iinclude", "-MD", "-MT", `out/${obj}`, "-MF", `${obj}.d`, "-c", src, "-o", obj], [obj, `${obj}.d`]);
  });
  it("split DWARF writes the same .dwo", async () => {
    await expectSameAsPlain(sb, w, [cc, "-g", "-gsplit-dwarf", "-Iinclude", "-c", src, "-o", obj], [obj, obj.replace(/\.o$/, ".dwo")]);
  });
});

describe("diagnostics and failures", () => {
  it("warnings are replayed on a hit", async () => {
    const { second } = await expectSameAsPlain(sb, w, ["gcc", "-Wall", "-c", "warn.c", "-o", "warn.o"], ["warn.o"]);
    expect(second.stderr).toContain("warning");
  });
  it("a failing compile fails the same way and is not cached", async () => {
    const before = await sb.stats();
    const { second } = await expectSameAsPlain(sb, w, ["gcc", "-c", "broken.c", "-o", "broken.o"], ["broken.o"]);
    expect(second.exitCode).not.toBe(0);
    const after = await sb.stats();
    expect(after.compileFailures - before.compileFailures).toBe(2);
  });
  it("coverage notes (.gcno) are restored", async () => {
    // Without -frandom-seed gcc stamps .gcno/.o with the time, so no two plain compiles agree.
    await expectSameAsPlain(sb, w, ["gcc", "--coverage", "-frandom-seed=cov", "-c", "hello.c", "-Iinclude", "-o", "cov.o"], ["cov.o", "cov.gcno"]);
  });
});

describe("stats", () => {
  it("counts a miss then a direct hit", async () => {
    await sb.zeroStats();
    writeFileSync(join(w, "fresh.c"), "int fresh(void) { return 7; }\n");
    await sb.run(["gcc", "-c", "fresh.c", "-o", "fresh.o"], w);
    await sb.run(["gcc", "-c", "fresh.c", "-o", "fresh.o"], w);
    const s = await sb.stats();
    expect(s.misses).toBe(1);
    expect(s.hitsDirect).toBe(1);
    expect(s.byLanguage.c?.hitsDirect).toBe(1);
    expect(s.hitServiceMs).toBeGreaterThan(0);
  });
});

describe("a miss is stored after the call returns", () => {
  it("from what the compiler wrote: the build moving or rewriting outputs and the dependency file at once changes nothing", async () => {
    // As automake's depcomp renames the .Tpo dependency file, and as a build may strip or rewrite an object, right after the compile.
    writeFileSync(join(w, "moved.c"), '#include "config.h"\nint moved(void) { return ANSWER; }\n');
    const argv = ["-g", "-Iinclude", "-MD", "-MF", "moved.Tpo", "-c", "moved.c", "-o", "moved.o"];
    const ref = await plain("gcc", argv, w);
    expect(ref.exitCode, text(ref.stderr)).toBe(0);
    const refObj = readFileSync(join(w, "moved.o"));
    const refDep = readFileSync(join(w, "moved.Tpo"));
    rmSync(join(w, "moved.o"));
    rmSync(join(w, "moved.Tpo"));
    await sb.zeroStats();
    const miss = await sb.run(["gcc", ...argv], w);
    expect(miss.exitCode, text(miss.stderr)).toBe(0);
    renameSync(join(w, "moved.Tpo"), join(w, "moved.Po"));
    writeFileSync(join(w, "moved.o"), "rewritten by the build\n");
    const hit = await sb.run(["gcc", ...argv], w);
    expect(hit.exitCode, text(hit.stderr)).toBe(0);
    expect(readFileSync(join(w, "moved.o")).equals(refObj)).toBe(true);
    expect(readFileSync(join(w, "moved.Tpo")).equals(refDep)).toBe(true);
    const s = await sb.stats();
    expect(s.misses).toBe(1);
    expect(s.hitsDirect).toBe(1);
  });
});
