import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine, parseDepFile } from "@reprise/core";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clangPlugin } from "../src/index.js";
import { expectCacheable, parseInput, realProbe, removeTempDirs, tempDir } from "../../plugin-gcc/test/helpers.js";

afterAll(removeTempDirs);

/** Runs the real clang 14 with the plugin's command lines and checks the files it predicts. */
const engine = new Engine().use(clangPlugin);
let compiler: Awaited<ReturnType<typeof detect>>;
let dir: string;
let tmp: string;

async function detect() {
  const d = await engine.hooks.detectCompiler.promise(realProbe("/usr/bin/clang"));
  if (!d) throw new Error("clang not detected");
  return { ...d, identity: "test" };
}

function plan(args: string[], extra: Parameters<typeof parseInput>[1] = {}) {
  return expectCacheable(engine.hooks.parseArguments.for("clang").call(parseInput(["/usr/bin/clang", ...args], { cwd: dir, compiler, tmp, ...extra })));
}

async function run(argv: string[]) {
  const r = await execa(argv[0]!, argv.slice(1), { cwd: dir, reject: false, stdin: "ignore", env: { LC_ALL: "C" } });
  expect(r.exitCode, r.stderr).toBe(0);
  return r;
}

async function compileAndCheck(args: string[]) {
  const inv = plan(args);
  await run(inv.compileArgv);
  for (const out of inv.outputs) expect(existsSync(out.path), `${out.role} at ${out.path}`).toBe(true);
  return inv;
}

beforeAll(async () => {
  compiler = await detect();
  dir = tempDir("reprise-clang-real-");
  tmp = join(dir, "tmp");
  for (const d of ["src", "inc", "out", "tmp"]) mkdirSync(join(dir, d));
  writeFileSync(join(dir, "inc/h.h"), "#define ANSWER 42\n");
  writeFileSync(join(dir, "src/a.c"), '#include <stdio.h>\n#include "h.h"\nint a_function(int x) { printf("%d", x); return x + ANSWER; }\n');
});

describe("output names clang 14 really uses", () => {
  it("dependency file next to -o, suffix replaced or appended", async () => {
    expect((await compileAndCheck(["-MD", "-Iinc", "-c", "src/a.c", "-o", "out/x.o"])).outputs[1]!.path).toBe(join(dir, "out/x.d"));
    expect((await compileAndCheck(["-MMD", "-Iinc", "-c", "src/a.c", "-o", "out/noext"])).outputs[1]!.path).toBe(join(dir, "out/noext.d"));
    expect((await compileAndCheck(["-MD", "-Iinc", "-c", "src/a.c"])).outputs.map((o) => o.path)).toEqual([join(dir, "a.o"), join(dir, "a.d")]);
  });

  it("split DWARF (with -g): <object without suffix>.dwo", async () => {
    const inv = await compileAndCheck(["-g", "-gsplit-dwarf", "-Iinc", "-c", "src/a.c", "-o", "out/s.o"]);
    const dwo = inv.outputs.find((o) => o.role === "dwo")!.path;
    expect(dwo).toBe(join(dir, "out/s.dwo"));
    expect(existsSync(dwo)).toBe(true);
  });

  it("coverage notes and stack usage named after the object", async () => {
    const inv = await compileAndCheck(["--coverage", "-fstack-usage", "-Iinc", "-c", "src/a.c", "-o", "out/cov.o"]);
    expect(inv.outputs.filter((o) => o.optional).map((o) => o.path)).toEqual([join(dir, "out/cov.gcno"), join(dir, "out/cov.su")]);
    for (const o of inv.outputs) expect(existsSync(o.path), o.path).toBe(true);
  });
});

describe("what the plugin adds to the compile", () => {
  it("a temporary -MD -MF lists every include and leaves the object unchanged", async () => {
    const args = ["-O2", "-g", "-Iinc", "-c", "src/a.c", "-o", "out/t.o"];
    const inv = plan(args);
    await run(inv.compileArgv);
    const withDeps = readFileSync(join(dir, "out/t.o"));
    const deps = parseDepFile(readFileSync(inv.dependencies.depFile!, "utf8"), dir);
    expect(deps).toContain(join(dir, "inc/h.h"));
    expect(deps).toContain("/usr/include/stdio.h");
    await run(["/usr/bin/clang", ...args]);
    expect(readFileSync(join(dir, "out/t.o")).equals(withDeps)).toBe(true);
  });

  it("the -MMD scan writes a complete list and nothing else", async () => {
    const inv = plan(["-MMD", "-Iinc", "-c", "src/a.c", "-o", "out/m.o"]);
    const before = [readdirSync(dir).sort(), readdirSync(join(dir, "out")).sort()];
    await run(inv.dependencies.scanArgv!);
    expect([readdirSync(dir).sort(), readdirSync(join(dir, "out")).sort()]).toEqual(before);
    const scanned = parseDepFile(readFileSync(inv.dependencies.scanDepFile!, "utf8"), dir);
    expect(scanned).toContain("/usr/include/stdio.h");
    expect(scanned).toContain(join(dir, "inc/h.h"));
  });

  it("forced colors really color the diagnostics", async () => {
    writeFileSync(join(dir, "src/warn.c"), "int f(int a) { if (a = 1) return 2; return 0; }\n");
    const inv = plan(["-Wall", "-c", "src/warn.c", "-o", "out/w.o"], { stderrIsTTY: true, env: { TERM: "xterm" } });
    expect((await run(inv.compileArgv)).stderr).toContain("\u001b[");
  });
});
