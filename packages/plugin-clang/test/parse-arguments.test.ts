import { Engine } from "@reprise/core";
import { describe, expect, it } from "vitest";
import { clangPlugin } from "../src/index.js";
// Shared with the gcc plugin's tests: probes and ParseInput builders.
import { expectCacheable, fakeCompiler, parseInput, reasonOf, withoutSubsequence } from "../../plugin-gcc/test/helpers.js";

const engine = new Engine().use(clangPlugin);
const CLANG = "/usr/bin/clang";
const CWD = "/work/proj/build";

function parse(args: string[], opts: Parameters<typeof parseInput>[1] = {}) {
  return engine.hooks.parseArguments.for("clang").call(parseInput([CLANG, ...args], { cwd: CWD, compiler: fakeCompiler("clang"), ...opts }));
}

describe("clang command lines", () => {
  it("CMake with -target and -MD -MT -MF", () => {
    const args = ["-target", "aarch64-linux-gnu", "-DNDEBUG", "-Iinc", "-O2", "-MD", "-MT", "a.o", "-MF", "a.o.d", "-o", "a.o", "-c", "a.c"];
    const inv = expectCacheable(parse(args));
    // The -MT target is rewritten on a hit (adaptOutput), so it is not keyed.
    expect(inv.keyArgs).toEqual(["-target", "aarch64-linux-gnu", "-DNDEBUG", "-Iinc", "-O2", "-MD", "-c", "a.c"]);
    expect(inv.preprocessorOnlyArgs).toEqual(["-DNDEBUG", "-Iinc"]);
    expect(inv.outputs).toEqual([
      { role: "object", path: `${CWD}/a.o` },
      { role: "dep", path: `${CWD}/a.o.d`, adapt: { depTargets: ["a.o"] } },
    ]);
    expect(inv.preprocessArgv).toEqual([CLANG, "-target", "aarch64-linux-gnu", "-DNDEBUG", "-Iinc", "-O2", "a.c", "-E", "-MD", "-MF", inv.preprocessDepFile]);
  });

  it("--target=, -mllvm, -Xarch_, -Xclang take their arguments", () => {
    const inv = expectCacheable(
      parse(["--target=x86_64-linux-gnu", "-mllvm", "-inline-threshold=100", "-Xarch_x86_64", "-O2", "-Xclang", "-fno-pch-timestamp", "-c", "a.c", "-o", "a.o"]),
    );
    expect(inv.keyArgs).toEqual(["--target=x86_64-linux-gnu", "-mllvm", "-inline-threshold=100", "-Xarch_x86_64", "-O2", "-Xclang", "-fno-pch-timestamp", "-c", "a.c"]);
    expect(inv.sourceFile).toBe(`${CWD}/a.c`);
  });

  it("clang-only include options are preprocessor-only", () => {
    const inv = expectCacheable(parse(["-cxx-isystem", "/x", "-isystem-after", "/y", "-iframework", "/f", "-c", "a.cpp"]));
    expect(inv.preprocessorOnlyArgs).toEqual(["-cxx-isystem", "/x", "-isystem-after", "/y", "-iframework", "/f"]);
    expect(withoutSubsequence(inv.keyArgs, inv.preprocessorOnlyArgs)).toEqual(["-c", "a.cpp"]);
  });

  it("hashes instrumentation lists named by path", () => {
    const inv = expectCacheable(parse(["-fsanitize=cfi", "-fsanitize-ignorelist=ign.txt", "-fprofile-list=fun.list", "-c", "a.c"]));
    expect(inv.extraInputFiles).toEqual([`${CWD}/ign.txt`, `${CWD}/fun.list`]);
  });
});

describe("clang's not-cacheable options", () => {
  it.each([
    [["-fprofile-instr-generate", "-c", "a.c"], "profile-data"],
    [["-fprofile-instr-use=a.profdata", "-c", "a.c"], "profile-data"],
    [["-fprofile-use=a.profdata", "-c", "a.c"], "profile-data"],
    [["-fprofile-sample-use=a.prof", "-c", "a.c"], "profile-data"],
    [["-fmodules", "-c", "a.m"], "unsupported-option"],
    [["-fmodules-cache-path=/tmp/m", "-c", "a.cc"], "unsupported-option"],
    [["-fcxx-modules", "-c", "a.cc"], "unsupported-option"],
    [["-fmodule-file=m.pcm", "-c", "a.cc"], "unsupported-option"],
    [["--analyze", "-c", "a.c"], "unsupported-option"],
    [["-include-pch", "all.pch", "-c", "a.c"], "unsupported-option"],
    [["-ftime-trace", "-c", "a.c"], "unsupported-option"],
    [["-fsave-optimization-record", "-c", "a.c"], "unsupported-option"],
    [["-MJ", "a.json", "-c", "a.c"], "unsupported-option"],
    [["-serialize-diagnostics", "a.dia", "-c", "a.c"], "unsupported-option"],
    [["-Xclang", "-emit-pch", "-c", "a.h"], "unsupported-option"],
    [["-Xclang", "-load", "-Xclang", "plugin.so", "-c", "a.c"], "unsupported-option"],
    [["--driver-mode=cl", "/c", "a.c"], "unsupported-option"],
    [["-working-directory", "/elsewhere", "-c", "a.c"], "unsupported-option"],
    [["-objcmt-migrate-literals", "-c", "a.m"], "unsupported-option"],
    [["-save-temps", "-c", "a.c"], "unsupported-option"],
    [["-c", "a.cu"], "unsupported-language"],
    [["-x", "cuda", "-c", "a.c"], "unsupported-language"],
    [["-c", "a.pch"], "unsupported-language"],
    [["a.c", "-o", "a"], "linking"],
  ])("%j → %s", (args, reason) => {
    expect(reasonOf(parse(args))).toBe(reason);
  });
});

describe("clang's differences", () => {
  it("colors with -fcolor-diagnostics and does not key GCC_COLORS", () => {
    const tty = expectCacheable(parse(["-c", "a.c"], { stderrIsTTY: true, env: { TERM: "xterm" } }));
    expect(tty.colorDiagnostics).toBe(true);
    expect(tty.compileArgv).toEqual([CLANG, "-c", "a.c", "-fcolor-diagnostics", "-MD", "-MF", tty.dependencies.depFile]);
    expect(tty.compileArgv).not.toContain("-fdiagnostics-color=always");
    expect(tty.keyEnv).not.toContain("GCC_COLORS");
    expect(tty.keyEnv).toContain("CCC_OVERRIDE_OPTIONS");
    expect(expectCacheable(parse(["-fno-color-diagnostics", "-c", "a.c"], { stderrIsTTY: true, env: { TERM: "xterm" } })).colorDiagnostics).toBe(false);
    expect(expectCacheable(parse(["-fcolor-diagnostics", "-c", "a.c"])).colorDiagnostics).toBe(true);
    expect(expectCacheable(parse(["-fdiagnostics-color", "-c", "a.c"])).colorDiagnostics).toBe(true);
  });

  it("-gsplit-dwarf: .dwo unless =single; alone it does not turn debug info on", () => {
    const roles = (args: string[]) => expectCacheable(parse([...args, "-c", "a.c", "-o", "o/a.o"])).outputs.map((o) => `${o.role}:${o.path}`);
    expect(roles(["-g", "-gsplit-dwarf"])).toEqual([`object:${CWD}/o/a.o`, `dwo:${CWD}/o/a.dwo`]);
    expect(roles(["-g", "-gsplit-dwarf=split"])).toEqual([`object:${CWD}/o/a.o`, `dwo:${CWD}/o/a.dwo`]);
    expect(roles(["-g", "-gsplit-dwarf=single"])).toEqual([`object:${CWD}/o/a.o`]);
    expect(expectCacheable(parse(["-gsplit-dwarf", "-c", "a.c"])).dependsOnCwd).toBe(false);
    expect(expectCacheable(parse(["-g", "-gsplit-dwarf", "-c", "a.c"])).dependsOnCwd).toBe(true);
  });

  it("clang++ and --driver-mode=g++ compile .c as C++", () => {
    expect(expectCacheable(parse(["-c", "a.c"])).language).toBe("c");
    expect(expectCacheable(parse(["-c", "a.c"], { compiler: fakeCompiler("clang", { data: { cxx: true } }) })).language).toBe("c++");
    expect(expectCacheable(parse(["--driver-mode=g++", "-c", "a.c"])).language).toBe("c++");
    expect(expectCacheable(parse(["--driver-mode=gcc", "-c", "a.c"], { compiler: fakeCompiler("clang", { data: { cxx: true } }) })).language).toBe("c");
  });

  it("keeps time macros under SOURCE_DATE_EPOCH before clang 16, which ignores it", () => {
    const tokens = (version: string) =>
      expectCacheable(parse(["-c", "a.c"], { env: { SOURCE_DATE_EPOCH: "0" }, compiler: fakeCompiler("clang", { version }) })).volatileMarkers.map((m) => m.token);
    expect(tokens("14.0.6")).toEqual([".incbin", "__DATE__", "__TIME__", "__TIMESTAMP__"]);
    expect(tokens("16.0.0")).toEqual([".incbin"]);
  });

  it("unknown long options are plain flags (clang has no abbreviations)", () => {
    expect(expectCacheable(parse(["--rtlib=compiler-rt", "-c", "a.c"])).keyArgs).toEqual(["--rtlib=compiler-rt", "-c", "a.c"]);
  });
});
