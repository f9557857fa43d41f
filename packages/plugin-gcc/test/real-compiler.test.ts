import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine, parseDepFile } from "@reprise/core";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gccPlugin } from "../src/index.js";
import { expectCacheable, parseInput, realProbe, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

/**
 * Runs the real GCC 12 with the command lines the plugin produces and checks
 * that every file it predicts appears, and that what it adds changes nothing.
 */
const engine = new Engine().use(gccPlugin);
let compiler: Awaited<ReturnType<typeof detect>>;
let dir: string;
let tmp: string;

async function detect() {
  const d = await engine.hooks.detectCompiler.promise(realProbe("/usr/bin/gcc"));
  if (!d) throw new Error("gcc not detected");
  return { ...d, identity: "test" };
}

function plan(args: string[]) {
  return expectCacheable(engine.hooks.parseArguments.for("gcc").call(parseInput(["/usr/bin/gcc", ...args], { cwd: dir, compiler, tmp })));
}

async function run(argv: string[]) {
  const r = await execa(argv[0]!, argv.slice(1), { cwd: dir, reject: false, stdin: "ignore", env: { LC_ALL: "C" } });
  expect(r.exitCode, r.stderr).toBe(0);
  return r;
}

/** Compiles as the plugin says and returns the outputs it predicted, checking each required one exists. */
async function compileAndCheck(args: string[]) {
  const inv = plan(args);
  await run(inv.compileArgv);
  for (const out of inv.outputs) expect(existsSync(out.path), `${out.role} at ${out.path}`).toBe(true);
  return inv;
}

beforeAll(async () => {
  compiler = await detect();
  dir = tempDir("reprise-gcc-real-");
  tmp = join(dir, "tmp");
  mkdirSync(join(dir, "src"));
  mkdirSync(join(dir, "inc"));
  mkdirSync(join(dir, "out"));
  mkdirSync(tmp);
  writeFileSync(join(dir, "inc/h.h"), "#define ANSWER 42\n");
  writeFileSync(join(dir, "src/a.c"), '#include <stdio.h>\n#include "h.h"\nint a_function(int x) { printf("%d", x); return x + ANSWER; }\n');
});

describe("output names GCC 12 really uses", () => {
  it("dependency file next to -o with the suffix replaced", async () => {
    const inv = await compileAndCheck(["-MD", "-Iinc", "-c", "src/a.c", "-o", "out/x.o"]);
    expect(inv.outputs.find((o) => o.role === "dep")!.path).toBe(join(dir, "out/x.d"));
    expect(readFileSync(join(dir, "out/x.d"), "utf8")).toMatch(/^out\/x\.o: src\/a\.c/);
  });

  it("dependency file for an output without a suffix, or with two", async () => {
    expect((await compileAndCheck(["-MMD", "-Iinc", "-c", "src/a.c", "-o", "out/noext"])).outputs.map((o) => o.path)).toEqual([join(dir, "out/noext"), join(dir, "out/noext.d")]);
    expect((await compileAndCheck(["-MD", "-Iinc", "-c", "src/a.c", "-o", "out/x.y.o"])).outputs[1]!.path).toBe(join(dir, "out/x.y.d"));
  });

  it("object and dependency file in the cwd without -o", async () => {
    const inv = await compileAndCheck(["-MD", "-Iinc", "-c", "src/a.c"]);
    expect(inv.outputs.map((o) => o.path)).toEqual([join(dir, "a.o"), join(dir, "a.d")]);
  });

  it("kbuild's -Wp,-MMD,file", async () => {
    const inv = await compileAndCheck(["-Wp,-MMD,out/.k.o.d", "-Iinc", "-c", "src/a.c", "-o", "out/k.o"]);
    expect(inv.outputs[1]!.path).toBe(join(dir, "out/.k.o.d"));
  });

  it("split DWARF: <object without suffix>.dwo", async () => {
    const inv = await compileAndCheck(["-g", "-gsplit-dwarf", "-Iinc", "-c", "src/a.c", "-o", "out/s.o"]);
    const dwo = inv.outputs.find((o) => o.role === "dwo")!.path;
    expect(dwo).toBe(join(dir, "out/s.dwo"));
    expect(existsSync(dwo)).toBe(true);
  });

  it("coverage notes: <object without suffix>.gcno", async () => {
    const inv = await compileAndCheck(["--coverage", "-Iinc", "-c", "src/a.c", "-o", "out/cov.o"]);
    const gcno = inv.outputs.find((o) => o.role === "gcno")!.path;
    expect(gcno).toBe(join(dir, "out/cov.gcno"));
    expect(existsSync(gcno)).toBe(true);
  });

  it("stack usage: <object without suffix>.su", async () => {
    const inv = await compileAndCheck(["-fstack-usage", "-Iinc", "-c", "src/a.c", "-o", "out/st.o"]);
    expect(existsSync(inv.outputs.find((o) => o.role === "su")!.path)).toBe(true);
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
    await run(["/usr/bin/gcc", ...args]);
    expect(readFileSync(join(dir, "out/t.o")).equals(withDeps)).toBe(true);
  });

  it("the -MMD scan writes a complete list to its file and nothing else", async () => {
    const inv = plan(["-MMD", "-Iinc", "-c", "src/a.c", "-o", "out/m.o"]);
    const before = readdirSync(dir).sort();
    const beforeOut = readdirSync(join(dir, "out")).sort();
    await run(inv.dependencies.scanArgv!);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readdirSync(join(dir, "out")).sort()).toEqual(beforeOut);
    const scanned = parseDepFile(readFileSync(inv.dependencies.scanDepFile!, "utf8"), dir);
    expect(scanned).toContain("/usr/include/stdio.h");
    expect(scanned).toContain(join(dir, "inc/h.h"));

    await run(inv.compileArgv);
    const own = parseDepFile(readFileSync(inv.dependencies.depFile!, "utf8"), dir);
    expect(own).not.toContain("/usr/include/stdio.h");
  });

  it("the preprocess run prints preprocessed text with line markers to stdout and writes nothing", async () => {
    const inv = plan(["-MD", "-MF", "out/pp.d", "-P", "-Iinc", "-DEXTRA=1", "-c", "src/a.c", "-o", "out/pp.o"]);
    const before = readdirSync(join(dir, "out")).sort();
    const r = await run(inv.preprocessArgv!);
    expect(r.stdout).toContain("return x + 42;");
    expect(r.stdout).toMatch(/^# 1 "src\/a\.c"/m);
    expect(readdirSync(join(dir, "out")).sort()).toEqual(before);
  });

  it("forced colors really color the diagnostics", async () => {
    writeFileSync(join(dir, "src/warn.c"), "int f(int a) { if (a = 1) return 2; return 0; }\n");
    const inv = expectCacheable(
      engine.hooks.parseArguments
        .for("gcc")
        .call(parseInput(["/usr/bin/gcc", "-Wall", "-c", "src/warn.c", "-o", "out/w.o"], { cwd: dir, compiler, tmp, stderrIsTTY: true, env: { TERM: "xterm" } })),
    );
    const r = await run(inv.compileArgv);
    expect(r.stderr).toContain("\u001b[");
  });

  it("an already preprocessed input compiles with no preprocess run and no dependencies", async () => {
    writeFileSync(join(dir, "src/p.i"), "int from_i(void) { return 3; }\n");
    const inv = await compileAndCheck(["-c", "src/p.i", "-o", "out/p.o"]);
    expect(inv.preprocessArgv).toBeUndefined();
    expect(inv.dependencies).toEqual({ none: true });
  });
});
