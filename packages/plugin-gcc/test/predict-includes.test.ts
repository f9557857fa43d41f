import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine, parseDepFile, type IncludeSearch } from "@reprise/core";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gccPlugin, parseDirectives, predictIncludes, PredictionMemo } from "../src/index.js";
import { expectCacheable, parseInput, realProbe, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

/**
 * The files a compile may read, predicted from its include directives
 * (MissContext.predictReads): checked against what the real gcc reads
 * (`-M`), which it must hold, on a project with quoted includes beside
 * their includer, an earlier `-I` directory shadowing a later one,
 * `#include_next`, `-iquote`, a directive under a false `#if`, and
 * libstdc++'s headers.
 */
describe("predictIncludes", () => {
  let dir: string;
  let tmp: string;
  beforeAll(() => {
    dir = tempDir();
    tmp = tempDir();
    for (const d of ["src/detail", "first", "second", "quoted"]) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, "src/unit.cpp"), '#include <vector>\n#include "local.h"\n#include <value.h>\n#include "q.h"\n#if 0\n#include "never.h"\n#endif\nint f() { return VALUE + LOCAL + Q; }\n');
    writeFileSync(join(dir, "src/local.h"), '#include "detail/inner.h"\n#define LOCAL INNER\n');
    writeFileSync(join(dir, "src/detail/inner.h"), "#define INNER 1\n");
    writeFileSync(join(dir, "first/value.h"), "#include_next <value.h>\n");
    writeFileSync(join(dir, "second/value.h"), "#define VALUE 2\n");
    writeFileSync(join(dir, "quoted/q.h"), "#define Q 3\n");
    writeFileSync(join(dir, "second/never.h"), "#error never\n");
  });

  /** The plugin's prediction (through its hook, or `predictIncludes` on a memo of its own) and what `g++ -M` lists. */
  async function predictedAndRead(args: string[], memo?: PredictionMemo) {
    const engine = new Engine().use(gccPlugin);
    const detected = await engine.hooks.detectCompiler.promise(realProbe("/usr/bin/g++"));
    if (!detected) throw new Error("g++ not detected");
    const compiler = { ...detected, identity: "test" };
    const argv = ["/usr/bin/g++", ...args, "-c", "src/unit.cpp", "-o", "unit.o"];
    const inv = expectCacheable(engine.hooks.parseArguments.for("gcc").call(parseInput(argv, { cwd: dir, compiler, tmp })));
    const s = await execa(inv.includeSearchArgv![0]!, inv.includeSearchArgv!.slice(1), { cwd: dir, reject: false });
    const search: IncludeSearch = engine.hooks.includeSearch.get("gcc")!.call({ stdout: s.stdout, stderr: s.stderr, exitCode: s.exitCode ?? -1, cwd: dir })!;
    const input = { invocation: inv, cwd: dir, search };
    const predicted = memo ? predictIncludes(input, memo) : engine.hooks.predictReads.get("gcc")!.call(input);
    const m = await execa("/usr/bin/g++", [...args, "-M", "src/unit.cpp"], { cwd: dir });
    return { predicted, read: parseDepFile(m.stdout, dir) };
  }

  it("holds every file gcc reads, the shadowed and the next one included, and the directive under #if 0", async () => {
    const { predicted, read } = await predictedAndRead(["-iquote", "quoted", "-Ifirst", "-Isecond"]);
    expect(predicted).toBeTruthy();
    const set = new Set(predicted);
    expect(read.filter((f) => !set.has(f))).toEqual([]);
    expect(read.some((f) => f.includes("/c++/"))).toBe(true);
    for (const f of ["first/value.h", "second/value.h", "quoted/q.h", "src/detail/inner.h", "second/never.h"]) expect(set.has(join(dir, f)), f).toBe(true);
  });

  it("with a file read, the same name in directories searched before its own (libstdc++'s <stdlib.h>, which <cstdlib> passes by #include_next)", async () => {
    const unit = readFileSync(join(dir, "src/unit.cpp"));
    writeFileSync(join(dir, "src/unit.cpp"), "#include <cstdlib>\nint f() { return abs(-1); }\n");
    const { predicted, read } = await predictedAndRead([], new PredictionMemo());
    writeFileSync(join(dir, "src/unit.cpp"), unit);
    const stdlib = read.filter((f) => f.endsWith("/stdlib.h"));
    expect(stdlib).toContain("/usr/include/stdlib.h");
    const shadowing = predicted!.filter((f) => f.endsWith("/stdlib.h") && !read.includes(f));
    expect(shadowing.some((f) => f.includes("/c++/")), predicted!.join("\n")).toBe(true);
  });

  it("a source that includes nothing: the implicit <stdc-predef.h> gcc reads first", async () => {
    writeFileSync(join(dir, "src/bare.c"), "int bare(void) { return 1; }\n");
    const search = { quote: [], angle: ["/usr/include"], missing: [] };
    const src = join(dir, "src/bare.c");
    const predicted = predictIncludes({ invocation: { compileArgv: ["gcc", "-c", src], sourceFile: src } as never, cwd: dir, search }, new PredictionMemo());
    const read = parseDepFile((await execa("/usr/bin/gcc", ["-M", src], { cwd: dir })).stdout, dir);
    expect(read).toContain("/usr/include/stdc-predef.h");
    expect(read.filter((f) => !predicted!.includes(f))).toEqual([]);
  });

  it("a computed include whose macro a file defines, or the command line: no prediction; one defined nowhere is left out", async () => {
    writeFileSync(join(dir, "src/local.h"), '#include "detail/inner.h"\n#define LOCAL INNER\n#if defined(USER_H)\n#include USER_H\n#endif\n');
    // Each on a memo of its own: the plugin's takes a header read less than two seconds ago as unchanged.
    expect((await predictedAndRead(["-iquote", "quoted", "-Ifirst", "-Isecond"], new PredictionMemo())).predicted).toBeTruthy();
    expect((await predictedAndRead(["-iquote", "quoted", "-Ifirst", "-Isecond", "-D", 'USER_H="q.h"'], new PredictionMemo())).predicted).toBeNull();
    writeFileSync(join(dir, "src/detail/inner.h"), '#define INNER 1\n#define USER_H "q.h"\n');
    expect((await predictedAndRead(["-iquote", "quoted", "-Ifirst", "-Isecond"], new PredictionMemo())).predicted).toBeNull();
  });

  it("reads directives whatever their spacing; a name that is neither a file nor a macro is unknown", () => {
    const d = parseDirectives('  #  include <a.h>\n#include"b.h"\n#include_next <c.h> // x\n#import "d.h"\n#define X 1\nint x; // #include "no.h"\n');
    expect(d.list).toEqual([
      { name: "a.h", quoted: false, next: false },
      { name: "b.h", quoted: true, next: false },
      { name: "c.h", quoted: false, next: true },
      { name: "d.h", quoted: true, next: false },
    ]);
    expect(d.defines).toEqual(["X"]);
    expect(parseDirectives("#include MACRO\n").computed).toEqual(["MACRO"]);
    expect(parseDirectives('#include "unterminated\n').computed).toBe("unknown");
  });

  it("a header created in an earlier directory is found once the directories are checked again", () => {
    let now = 0;
    const memo = new PredictionMemo(() => now);
    const src = join(dir, "src/shadow.c");
    writeFileSync(src, "#include <late.h>\n");
    const search = { quote: [], angle: [join(dir, "first"), join(dir, "second")], missing: [] };
    const predict = () => predictIncludes({ invocation: { compileArgv: ["gcc", "-c", src], sourceFile: src } as never, cwd: dir, search }, memo);
    writeFileSync(join(dir, "second/late.h"), "\n");
    expect(predict()).toEqual([src, join(dir, "second/late.h")]);
    writeFileSync(join(dir, "first/late.h"), "\n");
    now = 60_000;
    expect(predict()).toEqual([src, join(dir, "first/late.h")]);
  });
});
