import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "@reprise/core";
import { afterAll, describe, expect, it } from "vitest";
import { gccPlugin } from "../src/index.js";
import { expectCacheable, fakeCompiler, parseInput, reasonOf, removeTempDirs, tempDir, withoutSubsequence } from "./helpers.js";

afterAll(removeTempDirs);

const engine = new Engine().use(gccPlugin);
const GCC = "/usr/bin/gcc";
const CWD = "/work/proj/build";

function parse(args: string[], opts: Parameters<typeof parseInput>[1] = {}) {
  return engine.hooks.parseArguments.for("gcc").call(parseInput([GCC, ...args], { cwd: CWD, ...opts }));
}

function outputsOf(args: string[], opts: Parameters<typeof parseInput>[1] = {}) {
  return Object.fromEntries(expectCacheable(parse(args, opts)).outputs.map((o) => [o.role, o.optional ? `${o.path} (optional)` : o.path]));
}

describe("build-system command lines", () => {
  it("CMake: -MD -MT -MF, joined -I and -D", () => {
    const args = ["-DFOO=1", "-I/src/include", "-O2", "-g", "-MD", "-MT", "CMakeFiles/x.dir/a.c.o", "-MF", "CMakeFiles/x.dir/a.c.o.d", "-o", "CMakeFiles/x.dir/a.c.o", "-c", "/src/a.c"];
    const inv = expectCacheable(parse(args));
    expect(inv.language).toBe("c");
    expect(inv.sourceFile).toBe("/src/a.c");
    expect(inv.outputs).toEqual([
      { role: "object", path: `${CWD}/CMakeFiles/x.dir/a.c.o` },
      { role: "dep", path: `${CWD}/CMakeFiles/x.dir/a.c.o.d`, adapt: { depTargets: ["CMakeFiles/x.dir/a.c.o"] } },
    ]);
    // The -MT target is rewritten on a hit; the -o and -MF paths reach no output as is.
    expect(inv.keyArgs).toEqual(["-DFOO=1", "-I/src/include", "-O2", "-g", "-MD", "-c", "/src/a.c"]);
    expect(inv.preprocessorOnlyArgs).toEqual(["-DFOO=1", "-I/src/include"]);
    expect(inv.compileArgv).toEqual([GCC, ...args]);
    expect(inv.dependencies).toEqual({ depFile: `${CWD}/CMakeFiles/x.dir/a.c.o.d` });
    expect(inv.preprocessArgv).toEqual([GCC, "-DFOO=1", "-I/src/include", "-O2", "-g", "/src/a.c", "-ftrack-macro-expansion=0", "-E", "-MD", "-MF", inv.preprocessDepFile]);
    expect(inv.dependsOnCwd).toBe(true);
  });

  it("autotools: -MT -MD -MP -MF .deps/x.Tpo -c -o x.o x.c", () => {
    const args = ["-DHAVE_CONFIG_H", "-I.", "-I..", "-g", "-O2", "-MT", "x.o", "-MD", "-MP", "-MF", ".deps/x.Tpo", "-c", "-o", "x.o", "x.c"];
    const inv = expectCacheable(parse(args));
    expect(inv.outputs).toEqual([
      { role: "object", path: `${CWD}/x.o` },
      { role: "dep", path: `${CWD}/.deps/x.Tpo`, adapt: { depTargets: ["x.o"] } },
    ]);
    expect(inv.keyArgs).toEqual(["-DHAVE_CONFIG_H", "-I.", "-I..", "-g", "-O2", "-MD", "-MP", "-c", "x.c"]);
    expect(inv.preprocessorOnlyArgs).toEqual(["-DHAVE_CONFIG_H", "-I.", "-I.."]);
    expect(inv.preprocessArgv).toEqual([GCC, "-DHAVE_CONFIG_H", "-I.", "-I..", "-g", "-O2", "x.c", "-ftrack-macro-expansion=0", "-E", "-MD", "-MF", inv.preprocessDepFile]);
  });

  it("kbuild: -Wp,-MMD,dir/.x.o.d scans for the full include list", () => {
    const args = ["-Wp,-MMD,drivers/.x.o.d", "-nostdinc", "-I./arch/x86/include", "-D__KERNEL__", "-Wp,-D_FORTIFY_SOURCE=2", "-O2", "-c", "-o", "drivers/x.o", "drivers/x.c"];
    const inv = expectCacheable(parse(args, { tmp: "/tmp/r" }));
    expect(inv.outputs).toEqual([
      { role: "object", path: `${CWD}/drivers/x.o` },
      { role: "dep", path: `${CWD}/drivers/.x.o.d` },
    ]);
    // No -MT: the dep file's target comes from the output name, so -o is keyed.
    expect(inv.keyArgs).toEqual(["-Wp,-MMD", "-nostdinc", "-I./arch/x86/include", "-D__KERNEL__", "-Wp,-D_FORTIFY_SOURCE=2", "-O2", "-c", "-o", "drivers/x.o", "drivers/x.c"]);
    expect(inv.preprocessorOnlyArgs).toEqual(["-nostdinc", "-I./arch/x86/include", "-D__KERNEL__", "-Wp,-D_FORTIFY_SOURCE=2"]);
    const scan = inv.dependencies.scanDepFile!;
    expect(scan.startsWith("/tmp/r/")).toBe(true);
    expect(inv.dependencies).toEqual({
      depFile: `${CWD}/drivers/.x.o.d`,
      scanDepFile: scan,
      scanArgv: [GCC, "-nostdinc", "-I./arch/x86/include", "-D__KERNEL__", "-Wp,-D_FORTIFY_SOURCE=2", "-O2", "drivers/x.c", "-M", "-MF", scan],
    });
    expect(inv.compileArgv).toEqual([GCC, ...args]);
  });

  it("meson: -MD -MQ, explicit -fdiagnostics-color=always", () => {
    const args = ["-Ilib.p", "-I.", "-fdiagnostics-color=always", "-D_FILE_OFFSET_BITS=64", "-Wall", "-O0", "-g", "-MD", "-MQ", "lib.p/a.c.o", "-MF", "lib.p/a.c.o.d", "-o", "lib.p/a.c.o", "-c", "../a.c"];
    const inv = expectCacheable(parse(args));
    expect(inv.colorDiagnostics).toBe(true);
    expect(inv.compileArgv).toEqual([GCC, ...args]);
    expect(inv.keyEnv).toContain("GCC_COLORS");
    expect(inv.sourceFile).toBe("/work/proj/a.c");
    expect(inv.keyArgs).toContain("../a.c");
    expect(inv.keyArgs).not.toContain("lib.p/a.c.o.d");
  });

  it("plain make: no dependency file requested, so a temporary one is added", () => {
    const inv = expectCacheable(parse(["-O2", "-c", "main.c", "-o", "main.o"], { tmp: "/tmp/r" }));
    const tmp = inv.dependencies.depFile!;
    expect(tmp).toMatch(/^\/tmp\/r\/.*\.d$/);
    expect(inv.dependencies).toEqual({ depFile: tmp, depFileIsTemporary: true });
    expect(inv.compileArgv).toEqual([GCC, "-O2", "-c", "main.c", "-o", "main.o", "-MD", "-MF", tmp]);
    expect(inv.keyArgs).toEqual(["-O2", "-c", "main.c"]);
    expect(inv.outputs).toEqual([{ role: "object", path: `${CWD}/main.o` }]);
    expect(inv.dependsOnCwd).toBe(false);
  });

  it("response files in a temp dir are expanded for the key, kept as @file in the compile", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "obj"));
    writeFileSync(join(dir, "flags.rsp"), `-I"inc dir" -DNAME='"x y"'\n@more.rsp`);
    writeFileSync(join(dir, "more.rsp"), "-c -o obj/a.o a.c");
    const inv = expectCacheable(parse(["@flags.rsp", "-O1"], { cwd: dir, tmp: dir }));
    expect(inv.keyArgs).toEqual(["-Iinc dir", '-DNAME="x y"', "-c", "a.c", "-O1"]);
    expect(inv.preprocessorOnlyArgs).toEqual(["-Iinc dir", '-DNAME="x y"']);
    expect(inv.outputs[0]).toEqual({ role: "object", path: join(dir, "obj/a.o") });
    expect(inv.compileArgv.slice(0, 3)).toEqual([GCC, "@flags.rsp", "-O1"]);
    expect(inv.preprocessArgv).toEqual([GCC, "-Iinc dir", '-DNAME="x y"', "a.c", "-O1", "-ftrack-macro-expansion=0", "-E", "-MD", "-MF", inv.preprocessDepFile]);
  });
});

describe("what is not cached, and why", () => {
  const cases: [string, string[], string][] = [
    ["link", ["main.o", "util.o", "-o", "prog"], "linking"],
    ["compile and link", ["main.c", "-o", "prog"], "linking"],
    ["-E", ["-E", "a.c"], "preprocess-only"],
    ["-E wins over -c", ["-c", "-E", "a.c"], "preprocess-only"],
    ["-M", ["-M", "a.c"], "dependencies-only"],
    ["-MM with -c", ["-MM", "-c", "a.c"], "dependencies-only"],
    ["-Wp,-M", ["-Wp,-M", "-c", "a.c"], "dependencies-only"],
    ["two sources", ["-c", "a.c", "b.c"], "multiple-sources"],
    ["two sources, linking", ["a.c", "b.c", "-o", "prog"], "linking"],
    ["stdin", ["-x", "c", "-c", "-", "-o", "a.o"], "stdin-source"],
    ["-o -", ["-c", "a.c", "-o", "-"], "output-to-stdout"],
    ["unknown suffix", ["-c", "notes.txt", "-o", "notes.o"], "unsupported-language"],
    ["Fortran", ["-c", "a.f90"], "unsupported-language"],
    ["plain assembler", ["-c", "start.s"], "unsupported-language"],
    ["-x assembler", ["-x", "assembler", "-c", "start.S"], "unsupported-language"],
    ["precompiled header", ["-c", "all.h", "-o", "all.h.gch"], "unsupported-language"],
    ["-x c-header", ["-x", "c-header", "-c", "all.x"], "unsupported-language"],
    ["nothing to compile", ["-c"], "no-source"],
    ["-fprofile-use", ["-fprofile-use", "-c", "a.c"], "profile-data"],
    ["-fprofile-use=path", ["-fprofile-use=prof/", "-c", "a.c"], "profile-data"],
    ["-fauto-profile", ["-fauto-profile=a.afdo", "-c", "a.c"], "profile-data"],
    ["-fbranch-probabilities", ["-fbranch-probabilities", "-c", "a.c"], "profile-data"],
    ["-fprofile-instr-generate", ["-fprofile-instr-generate", "-c", "a.c"], "profile-data"],
    ["-save-temps", ["-save-temps", "-c", "a.c"], "unsupported-option"],
    ["-save-temps=obj", ["-save-temps=obj", "-c", "a.c"], "unsupported-option"],
    ["-fdump-tree-all", ["-fdump-tree-all", "-c", "a.c"], "unsupported-option"],
    ["-fsyntax-only", ["-fsyntax-only", "-c", "a.c"], "unsupported-option"],
    ["-B", ["-B/opt/cross/", "-c", "a.c"], "unsupported-option"],
    ["-v", ["-v", "-c", "a.c"], "unsupported-option"],
    ["-dumpdir", ["-dumpdir", "x/", "-c", "a.c"], "unsupported-option"],
    ["-aux-info", ["-aux-info", "protos.txt", "-c", "a.c"], "unsupported-option"],
    ["assembler listing", ["-Wa,-adhln=a.lst", "-c", "a.c"], "unsupported-option"],
    ["-fopt-info to a file", ["-fopt-info-vec-missed=vec.txt", "-c", "a.c"], "unsupported-option"],
    ["-Xpreprocessor -MD", ["-Xpreprocessor", "-MD", "-c", "a.c"], "unsupported-option"],
    ["missing argument", ["-c", "a.c", "-o"], "unsupported-option"],
    ["abbreviated long option", ["-c", "a.c", "--outp", "x.o"], "unsupported-option"],
    ["-o /dev/null", ["-c", "a.c", "-o", "/dev/null"], "unsupported-option"],
    ["dependency file /dev/null", ["-c", "a.c", "-MD", "-MF", "/dev/null"], "unsupported-option"],
    ["gcc -fmodules-ts", ["-fmodules-ts", "-c", "a.cc"], "unsupported-option"],
    ["unreadable response file", ["@/nonexistent/args.rsp"], "response-file"],
  ];
  it.each(cases)("%s", (_name, args, reason) => {
    expect(reasonOf(parse(args))).toBe(reason);
  });

  it("DEPENDENCIES_OUTPUT and SUNPRO_DEPENDENCIES in the environment", () => {
    expect(reasonOf(parse(["-c", "a.c"], { env: { DEPENDENCIES_OUTPUT: "a.d" } }))).toBe("unsupported-option");
    expect(reasonOf(parse(["-c", "a.c"], { env: { SUNPRO_DEPENDENCIES: "a.d x" } }))).toBe("unsupported-option");
  });

  it("-include of a header that has a precompiled .gch next to it", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pch.h"), "");
    expect(expectCacheable(parse(["-include", "pch.h", "-c", "a.c"], { cwd: dir })).language).toBe("c");
    writeFileSync(join(dir, "pch.h.gch"), "");
    expect(reasonOf(parse(["-include", "pch.h", "-c", "a.c"], { cwd: dir }))).toBe("unsupported-option");
  });

  it("-march=native stays cacheable, keyed by what it resolves to on this machine (native-cpu.test.ts)", () => {
    const inv = expectCacheable(parse(["-march=native", "-mtune=native", "-c", "a.c"]));
    expect(inv.keyArgs.slice(-2)).toEqual(["-c", "a.c"]);
    expect(inv.keyArgs.join(" ")).not.toContain("native");
    expect(inv.keyArgs[0]).toMatch(/^-march=/);
  });

  it("a linker input next to the one source is tolerated (gcc only warns)", () => {
    expect(expectCacheable(parse(["-c", "a.c", "libx.a"])).keyArgs).toEqual(["-c", "a.c", "libx.a"]);
  });
});

describe("option syntax", () => {
  it("knows which options take a separate argument", () => {
    // Each value looks like a source file: mistaking one for an input would give multiple-sources.
    const args = [
      ...["-I", "i.c", "-D", "d.c", "-U", "u.c", "-include", "inc.h", "-imacros", "m.h", "-isystem", "s.c", "-iquote", "q.c", "-idirafter", "a.c2"],
      ...["-isysroot", "r.c", "--sysroot", "sr.c", "-MF", "f.c", "-MT", "t.c", "-MQ", "q2.c", "-Xpreprocessor", "-DX", "-Xassembler", "--noexecstack"],
      ...["-Xlinker", "x.c", "--param", "max-inline-insns-single=10", "-L", "l.c", "-l", "m", "-T", "t.ld", "-u", "sym.c", "-x", "c", "-o", "out.o", "-c", "src.c"],
    ];
    const inv = expectCacheable(parse(args));
    expect(inv.sourceFile).toBe(`${CWD}/src.c`);
    expect(inv.outputs[0]!.path).toBe(`${CWD}/out.o`);
  });

  it("reads joined forms", () => {
    const inv = expectCacheable(parse(["-Iinc", "-DX=1", "-UY", "-includeconf.h", "-MD", "-MFdeps/a.d", "-MTtarget", "-xc", "-oobj/a.o", "-c", "a.src"]));
    expect(inv.language).toBe("c");
    expect(inv.outputs).toEqual([
      { role: "object", path: `${CWD}/obj/a.o` },
      { role: "dep", path: `${CWD}/deps/a.d`, adapt: { depTargets: ["target"] } },
    ]);
    expect(inv.keyArgs).toEqual(["-Iinc", "-DX=1", "-UY", "-includeconf.h", "-MD", "-xc", "-c", "a.src"]);
    expect(inv.preprocessorOnlyArgs).toEqual(["-Iinc", "-DX=1", "-UY", "-includeconf.h"]);
  });

  it("reads GCC's long spellings", () => {
    const inv = expectCacheable(parse(["--compile", "--include-directory=inc", "--define-macro", "X", "--output", "o/a.o", "a.c"]));
    expect(inv.outputs[0]!.path).toBe(`${CWD}/o/a.o`);
    expect(inv.preprocessorOnlyArgs).toEqual(["--include-directory=inc", "--define-macro", "X"]);
  });

  it("uses the last -o", () => {
    expect(expectCacheable(parse(["-c", "a.c", "-o", "x.o", "-o", "y.o"])).outputs[0]!.path).toBe(`${CWD}/y.o`);
  });

  it("keeps separate values as separate key elements, so -u ndef is not -undef", () => {
    const a = expectCacheable(parse(["-u", "ndef", "-c", "a.c"])).keyArgs;
    const b = expectCacheable(parse(["-undef", "-c", "a.c"])).keyArgs;
    expect(a).not.toEqual(b);
  });

  it("preprocessorOnlyArgs is always a subsequence of keyArgs", () => {
    const lines = [
      ["-I", "x", "-MT", "-I", "-c", "a.c", "-Ix"],
      ["-Wp,-MD,a.d,-DX", "-DX", "-c", "a.c"],
      ["-Xpreprocessor", "-include", "-Xpreprocessor", "h.h", "-c", "a.c"],
      ["-isystem", "/s", "-iquote", "q", "-nostdinc", "-imacros", "m.h", "-c", "a.c", "-idirafter", "d"],
    ];
    for (const l of lines) {
      const inv = expectCacheable(parse(l));
      expect(() => withoutSubsequence(inv.keyArgs, inv.preprocessorOnlyArgs)).not.toThrow();
    }
    const inv = expectCacheable(parse(lines[3]!));
    expect(withoutSubsequence(inv.keyArgs, inv.preprocessorOnlyArgs)).toEqual(["-c", "a.c"]);
  });
});

describe("languages", () => {
  it.each([
    ["a.c", "c"],
    ["a.cc", "c++"],
    ["a.cpp", "c++"],
    ["a.cxx", "c++"],
    ["a.C", "c++"],
    ["a.c++", "c++"],
    ["a.m", "objective-c"],
    ["a.mm", "objective-c++"],
    ["a.S", "assembler-with-cpp"],
    ["a.sx", "assembler-with-cpp"],
    ["a.i", "cpp-output"],
    ["a.ii", "c++-cpp-output"],
  ])("%s is %s", (file, language) => {
    expect(expectCacheable(parse(["-c", file])).language).toBe(language);
  });

  it("g++ compiles .c and .i as C++", () => {
    const compiler = fakeCompiler("gcc", { data: { cxx: true } });
    expect(expectCacheable(parse(["-c", "a.c"], { compiler })).language).toBe("c++");
    expect(expectCacheable(parse(["-c", "a.i"], { compiler })).language).toBe("c++-cpp-output");
  });

  it("-x applies to the inputs after it, until -x none", () => {
    expect(expectCacheable(parse(["-x", "c++", "-c", "a.c"])).language).toBe("c++");
    expect(expectCacheable(parse(["-c", "a.c", "-x", "c++"])).language).toBe("c");
    expect(expectCacheable(parse(["-x", "c++", "-x", "none", "-c", "a.c"])).language).toBe("c");
  });

  it("an already preprocessed input is read as is: no -E, every argument keyed, an empty dependency list", () => {
    const inv = expectCacheable(parse(["-DX", "-Iinc", "-MD", "-c", "a.i", "-o", "a.o"], { tmp: "/tmp/r" }));
    expect(inv.preprocessorOnlyArgs).toEqual([]);
    expect(inv.outputs.map((o) => o.role)).toEqual(["object"]);
    expect(inv.compileArgv).toEqual([GCC, "-DX", "-Iinc", "-MD", "-c", "a.i", "-o", "a.o"]);
    expect(inv.preprocessArgv).toBeUndefined();
    expect(inv.dependencies).toEqual({ none: true });
    expect(inv.volatileMarkers.map((m) => m.token)).toEqual([".incbin"]);
  });
});

describe("outputs and the -o path in the key", () => {
  it("dep file defaults next to the object with its suffix replaced", () => {
    expect(outputsOf(["-MD", "-c", "src/a.c", "-o", "out/x.o"]).dep).toBe(`${CWD}/out/x.d`);
    expect(outputsOf(["-MMD", "-c", "src/a.c", "-o", "out/x.y.o"]).dep).toBe(`${CWD}/out/x.y.d`);
    expect(outputsOf(["-MD", "-c", "src/a.c", "-o", "out/x"]).dep).toBe(`${CWD}/out/x.d`);
    expect(outputsOf(["-MD", "-c", "src/a.c"])).toEqual({ object: `${CWD}/a.o`, dep: `${CWD}/a.d` });
  });

  it("split DWARF, coverage notes and stack usage are optional outputs named after the object", () => {
    expect(outputsOf(["-g", "-gsplit-dwarf", "-fstack-usage", "--coverage", "-c", "a.c", "-o", "o/x.o"])).toEqual({
      object: `${CWD}/o/x.o`,
      dwo: `${CWD}/o/x.dwo (optional)`,
      gcno: `${CWD}/o/x.gcno (optional)`,
      su: `${CWD}/o/x.su (optional)`,
    });
    expect(outputsOf(["-ftest-coverage", "-fprofile-note=notes/n.gcno", "-c", "a.c"]).gcno).toBe(`${CWD}/notes/n.gcno (optional)`);
    expect(outputsOf(["-ftest-coverage", "-fno-test-coverage", "-c", "a.c"]).gcno).toBeUndefined();
    expect(outputsOf(["-g", "-gsplit-dwarf", "-gno-split-dwarf", "-c", "a.c"]).dwo).toBeUndefined();
  });

  it("keys the -o path only when an output depends on it", () => {
    const keyed = (args: string[]) => expectCacheable(parse(args)).keyArgs.includes("x.o");
    expect(keyed(["-c", "a.c", "-o", "x.o"])).toBe(false);
    expect(keyed(["-c", "a.c", "-o", "x.o", "-g"])).toBe(false);
    // The dependency file's target is rewritten on a hit, so neither -o nor -MT/-MQ is keyed.
    expect(keyed(["-c", "a.c", "-o", "x.o", "-MD"])).toBe(false);
    expect(keyed(["-c", "a.c", "-o", "x.o", "-MMD", "-MT", "x.o"])).toBe(false);
    expect(keyed(["-c", "a.c", "-o", "x.o", "-MD", "-MQ", "x.o"])).toBe(false);
    // After -Wp,-MD cc1 chooses the target itself: kept as is, so keyed.
    expect(keyed(["-c", "a.c", "-o", "x.o", "-Wp,-MD,x.d"])).toBe(true);
    expect(keyed(["-c", "a.c", "-o", "x.o", "-gsplit-dwarf"])).toBe(true);
    expect(keyed(["-c", "a.c", "-o", "x.o", "--coverage"])).toBe(true);
    expect(keyed(["-c", "a.c", "-o", "x.o", "-fprofile-arcs"])).toBe(true);
  });

  it("marks the dependency file with the targets the compiler prints", () => {
    const dep = (args: string[]) => expectCacheable(parse(args)).outputs.find((o) => o.role === "dep");
    expect(dep(["-c", "a.c", "-o", "o/sp ace#$.o", "-MD"])!.adapt).toEqual({ depTargets: ["o/sp\\ ace\\#$$.o"] });
    expect(dep(["-c", "sub/a.c", "-MMD"])!.adapt).toEqual({ depTargets: ["a.o"] });
    expect(dep(["-c", "a.c", "-MD", "-MT", "a b", "-MQ", "c d"])!.adapt).toEqual({ depTargets: ["a b", "c\\ d"] });
    expect(dep(["-c", "a.c", "-Wp,-MD,a.d"])!.adapt).toBeUndefined();
  });

  it("says which prefixes the call maps away in what its outputs record (baseDirs)", () => {
    const rec = (args: string[]) => expectCacheable(parse(args)).pathRecording;
    expect(rec(["-O2", "-c", "a.c"])).toMatchObject({ debugInfo: false, debugMaps: [], macroMaps: [], unmappable: false });
    expect(rec(["-g", "-ffile-prefix-map=/a/proj=.", "-fdebug-prefix-map=/b=.", "-fmacro-prefix-map=/c=x", "-fdebug-prefix-map=rel=.", "-c", "a.c"])).toMatchObject({
      debugInfo: true,
      debugMaps: ["/a/proj", "/b"],
      macroMaps: ["/a/proj", "/c"],
    });
    expect(rec(["-O2", "-c", "a.c"])!.fileTokens).toContain("__FILE__");
    expect(rec(["--coverage", "-c", "a.c"])!.unmappable).toBe(true);
    expect(rec(["-flto", "-c", "a.c"])!.unmappable).toBe(true);
    expect(rec(["-flto=auto", "-fno-lto", "-c", "a.c"])!.unmappable).toBe(false);
  });

  it("the source path is keyed as written (it reaches __FILE__ and debug info)", () => {
    expect(expectCacheable(parse(["-c", "./a.c"])).keyArgs).toContain("./a.c");
    expect(expectCacheable(parse(["-c", "a.c"])).keyArgs).toContain("a.c");
  });
});

describe("cwd, color, environment, time macros, extra inputs", () => {
  it("dependsOnCwd follows debug info and coverage", () => {
    const cwdDep = (args: string[]) => expectCacheable(parse([...args, "-c", "a.c"])).dependsOnCwd;
    expect(cwdDep(["-O2"])).toBe(false);
    expect(cwdDep(["-g"])).toBe(true);
    expect(cwdDep(["-ggdb3"])).toBe(true);
    expect(cwdDep(["-g", "-g0"])).toBe(false);
    expect(cwdDep(["-gsplit-dwarf"])).toBe(true);
    expect(cwdDep(["-gz"])).toBe(false);
    expect(cwdDep(["--coverage"])).toBe(true);
    expect(cwdDep(["-fprofile-arcs"])).toBe(true);
  });

  it("colors diagnostics on a terminal that is not dumb, forcing them in the compile", () => {
    const tty = expectCacheable(parse(["-c", "a.c"], { stderrIsTTY: true, env: { TERM: "xterm-256color" } }));
    expect(tty.colorDiagnostics).toBe(true);
    expect(tty.compileArgv).toContain("-fdiagnostics-color=always");
    expect(tty.keyEnv).toContain("GCC_COLORS");

    for (const [tty, env] of [
      [false, { TERM: "xterm" }],
      [true, { TERM: "dumb" }],
      [true, {}],
    ] as const) {
      const inv = expectCacheable(parse(["-c", "a.c"], { stderrIsTTY: tty, env }));
      expect(inv.colorDiagnostics).toBe(false);
      expect(inv.compileArgv).not.toContain("-fdiagnostics-color=always");
      expect(inv.keyEnv).not.toContain("GCC_COLORS");
    }
  });

  it("an explicit color option decides, and is not doubled", () => {
    const ttyEnv = { stderrIsTTY: true, env: { TERM: "xterm" } };
    const never = expectCacheable(parse(["-fdiagnostics-color=never", "-c", "a.c"], ttyEnv));
    expect(never.colorDiagnostics).toBe(false);
    expect(never.compileArgv.filter((a) => a.startsWith("-fdiagnostics-color"))).toEqual(["-fdiagnostics-color=never"]);
    expect(expectCacheable(parse(["-fno-diagnostics-color", "-c", "a.c"], ttyEnv)).colorDiagnostics).toBe(false);
    expect(expectCacheable(parse(["-fdiagnostics-color", "-c", "a.c"])).colorDiagnostics).toBe(true);
    const always = expectCacheable(parse(["-fdiagnostics-color=always", "-c", "a.c"]));
    expect(always.compileArgv.filter((a) => a.startsWith("-fdiagnostics-color"))).toEqual(["-fdiagnostics-color=always"]);
    // "auto" would see a pipe under Reprise, so it is treated like no option.
    expect(expectCacheable(parse(["-fdiagnostics-color=auto", "-c", "a.c"], ttyEnv)).compileArgv).toContain("-fdiagnostics-color=always");
  });

  it("keys the environment variables GCC reads", () => {
    const env = expectCacheable(parse(["-c", "a.c"])).keyEnv;
    for (const name of ["CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH", "SOURCE_DATE_EPOCH", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "GCC_EXEC_PREFIX", "COMPILER_PATH"]) {
      expect(env).toContain(name);
    }
  });

  it("marks time macros, and keeps only __TIMESTAMP__ under SOURCE_DATE_EPOCH", () => {
    const markers = (env: Record<string, string>) => expectCacheable(parse(["-c", "a.c"], { env })).volatileMarkers;
    expect(markers({})).toEqual([
      { token: ".incbin", effect: "uncacheable" },
      { token: "__DATE__", effect: "date" },
      { token: "__TIME__", effect: "uncacheable" },
      { token: "__TIMESTAMP__", effect: "uncacheable" },
    ]);
    expect(markers({ SOURCE_DATE_EPOCH: "0" })).toEqual([
      { token: ".incbin", effect: "uncacheable" },
      { token: "__TIMESTAMP__", effect: "uncacheable" },
    ]);
    const asm = expectCacheable(parse(["-c", "a.S"])).volatileMarkers.map((m) => m.token);
    expect(asm).toContain(".include");
  });

  it("hashes sanitizer lists and plugins named by path", () => {
    const inv = expectCacheable(parse(["-fsanitize=address", "-fsanitize-ignorelist=cfg/ignore.txt", "-fplugin=/opt/p.so", "-c", "a.c"]));
    expect(inv.extraInputFiles).toEqual([`${CWD}/cfg/ignore.txt`, "/opt/p.so"]);
  });

  it("drops -P and -d letters from the preprocess run, which would change what -E prints", () => {
    const inv = expectCacheable(parse(["-P", "-dM", "-C", "-c", "a.c"]));
    expect(inv.preprocessArgv).toEqual([GCC, "-C", "a.c", "-ftrack-macro-expansion=0", "-E", "-MD", "-MF", inv.preprocessDepFile]);
  });
});

describe("-S and -fprofile-generate are cached", () => {
  it("-S writes a .s named after the source (or -o), keeps -S in the key, and leaves it out of the preprocess run", () => {
    const inv = expectCacheable(parse(["-O2", "-S", "src/a.c"]));
    expect(inv.outputs).toEqual([{ role: "object", path: `${CWD}/a.s` }]);
    expect(inv.keyArgs).toContain("-S");
    expect(inv.preprocessArgv).not.toContain("-S");
    expect(outputsOf(["-S", "-MD", "a.c", "-o", "out/a.s"])).toEqual({ object: `${CWD}/out/a.s`, dep: `${CWD}/out/a.d` });
    // -S wins over -c, as in gcc.
    expect(outputsOf(["-c", "-S", "a.c"])).toEqual({ object: `${CWD}/a.s` });
  });

  it("-fprofile-generate keys the -o path and the cwd: the object names its .gcda by them", () => {
    for (const flag of ["-fprofile-generate", "-fprofile-generate=prof"]) {
      const inv = expectCacheable(parse([flag, "-O2", "-c", "a.c", "-o", "obj/a.o"]));
      expect(inv.keyArgs).toEqual([flag, "-O2", "-c", "a.c", "-o", "obj/a.o"]);
      expect(inv.dependsOnCwd).toBe(true);
      expect(inv.preprocessedDeterminesOutputs).toBeUndefined();
    }
  });
});

describe("GCC: text digests (comment-blind headers)", () => {
  const dialectOf = (args: string[]) => expectCacheable(parse(args)).textDigest?.dialect;

  it("C and C++ without -g read headers comment-blind; C++14 and later with digit separators", () => {
    expect(dialectOf(["-O2", "-c", "a.c"])).toBe("c");
    expect(dialectOf(["-O2", "-std=gnu89", "-c", "a.c"])).toBe("c");
    expect(dialectOf(["-O2", "-c", "a.cc"])).toBe("c++");
    expect(dialectOf(["-O2", "-std=c++17", "-c", "a.cc"])).toBe("c++");
    expect(dialectOf(["-O2", "-std=c++11", "-c", "a.cc"])).toBe("c");
    expect(dialectOf(["-O2", "-c", "a.m"])).toBe("c");
  });

  it("not where comments or the text's spacing may reach the outputs or the diagnostics", () => {
    for (const args of [
      ["-g", "-c", "a.c"],
      ["--coverage", "-c", "a.c"],
      ["-C", "-c", "a.c"],
      ["-CC", "-c", "a.c"],
      ["-traditional-cpp", "-c", "a.c"],
      ["-Wp,-C", "-c", "a.c"],
      ["-std=c89", "-c", "a.c"],
      ["-ansi", "-c", "a.c"],
      ["-Wdocumentation", "-c", "a.c"],
      ["-Werror=documentation", "-c", "a.c"],
      ["-Wimplicit-fallthrough=1", "-c", "a.c"],
      ["-c", "a.S"],
      ["-c", "a.i"],
    ]) {
      expect(dialectOf(args), args.join(" ")).toBeUndefined();
    }
  });
});
