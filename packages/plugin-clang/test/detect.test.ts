import { Engine } from "@reprise/core";
import { gccPlugin } from "@reprise/plugin-gcc";
import { describe, expect, it } from "vitest";
import { clangPlugin } from "../src/index.js";
import { fakeProbe, realProbe } from "../../plugin-gcc/test/helpers.js";

const engine = new Engine().use(clangPlugin);

describe("detecting the installed clang 14", () => {
  it.each([
    ["/usr/bin/clang", false],
    ["/usr/bin/clang++", true],
    ["/usr/lib/llvm-14/bin/clang", false],
  ])("%s", async (path, cxx) => {
    const d = await engine.hooks.detectCompiler.promise(realProbe(path));
    expect(d).toBeDefined();
    expect(d!.family).toBe("clang");
    expect(d!.path).toBe(path);
    expect(d!.version).toBe("14.0.6");
    expect(d!.target).toBe("x86_64-pc-linux-gnu");
    expect(d!.versionText).toContain("clang version 14.0.6");
    expect(d!.versionText).toContain("Selected GCC installation:");
    expect(d!.identityFiles).toEqual([]);
    // readTrace: a miss reports what it read with each file's identity (the tracer runs with this clang).
    expect(d!.data).toEqual({ cxx, readTrace: true });
  });

  it.each(["/usr/bin/gcc", "/usr/bin/g++", "/usr/bin/cc"])("leaves GCC's %s alone", async (path) => {
    expect(await engine.hooks.detectCompiler.promise(realProbe(path))).toBeUndefined();
  });

  it("with both plugins, each compiler goes to its own family", async () => {
    const both = new Engine().use(gccPlugin).use(clangPlugin);
    expect((await both.hooks.detectCompiler.promise(realProbe("/usr/bin/clang")))?.family).toBe("clang");
    expect((await both.hooks.detectCompiler.promise(realProbe("/usr/bin/gcc")))?.family).toBe("gcc");
  });
});

describe("detecting other clang builds from their answers", () => {
  it("Apple clang", async () => {
    const d = await engine.hooks.detectCompiler.promise(
      fakeProbe("/usr/bin/cc", "/Library/Developer/CommandLineTools/usr/bin/clang", {
        "--version": { stdout: "Apple clang version 15.0.0 (clang-1500.0.40.1)\nTarget: arm64-apple-darwin23.0.0\nThread model: posix\n" },
        "-v": { stderr: "Apple clang version 15.0.0 (clang-1500.0.40.1)\n" },
      }),
    );
    expect(d).toMatchObject({ family: "clang", version: "15.0.0", target: "arm64-apple-darwin23.0.0", data: { cxx: false } });
  });

  it("versioned C++ names", async () => {
    const answers = { "--version": { stdout: "Ubuntu clang version 18.1.3\nTarget: x86_64-pc-linux-gnu\n" }, "-v": {} };
    const d = await engine.hooks.detectCompiler.promise(fakeProbe("/usr/bin/clang++-18", "/usr/lib/llvm-18/bin/clang", answers));
    expect(d).toMatchObject({ version: "18.1.3", data: { cxx: true } });
  });

  it("not clang-cl or clang-cpp, whose command lines are not gcc-like compiles", async () => {
    const answers = { "--version": { stdout: "clang version 14.0.6\n" }, "-v": {} };
    expect(await engine.hooks.detectCompiler.promise(fakeProbe("/usr/bin/clang-cl-14", "/usr/lib/llvm-14/bin/clang", answers))).toBeUndefined();
    expect(await engine.hooks.detectCompiler.promise(fakeProbe("/usr/bin/clang-cpp", "/usr/lib/llvm-14/bin/clang", answers))).toBeUndefined();
  });
});
