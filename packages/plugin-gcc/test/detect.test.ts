import { Engine } from "@reprise/core";
import { describe, expect, it } from "vitest";
import { gccPlugin } from "../src/index.js";
import { fakeProbe, realProbe } from "./helpers.js";

const engine = new Engine().use(gccPlugin);
const detect = (path: string) => engine.hooks.detectCompiler.promise(realProbe(path));

describe("detecting the installed GCC 12", () => {
  it.each([
    ["/usr/bin/gcc", false],
    ["/usr/bin/cc", false],
    ["/usr/bin/x86_64-linux-gnu-gcc-12", false],
    ["/usr/bin/g++", true],
    ["/usr/bin/c++", true],
  ])("%s", async (path, cxx) => {
    const d = await detect(path);
    expect(d).toBeDefined();
    expect(d!.family).toBe("gcc");
    expect(d!.path).toBe(path);
    expect(d!.version).toMatch(/^12\.\d+\.\d+$/);
    expect(d!.target).toBe("x86_64-linux-gnu");
    expect(d!.versionText).toContain("Configured with:");
    expect(d!.versionText).toContain(`gcc version ${d!.version}`);
    // The read tracer is built with the package (npm run build) and works with the installed GCC.
    expect(d!.data).toEqual({ cxx, readTrace: true });
    expect(d!.identityFiles).toEqual(["/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "/usr/lib/gcc/x86_64-linux-gnu/12/cc1plus"]);
  });

  it("gives gcc and cc (one binary) the same version text", async () => {
    expect((await detect("/usr/bin/cc"))!.versionText).toBe((await detect("/usr/bin/gcc"))!.versionText);
  });

  it.each(["/usr/bin/clang", "/usr/bin/clang++"])("leaves %s alone", async (path) => {
    expect(await detect(path)).toBeUndefined();
  });
});

describe("detecting other GCC builds from their answers", () => {
  const crossVersion = "aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0\nCopyright (C) 2022 Free Software Foundation, Inc.\n";
  const crossVerbose =
    "Using built-in specs.\nCOLLECT_GCC=/usr/bin/aarch64-linux-gnu-gcc\nTarget: aarch64-linux-gnu\nConfigured with: ../src/configure --target=aarch64-linux-gnu\nThread model: posix\ngcc version 12.2.0 (Debian 12.2.0-14) \n";

  it("a cross compiler, with its target and without nonexistent cc1 paths", async () => {
    const d = await engine.hooks.detectCompiler.promise(
      fakeProbe("/usr/bin/aarch64-linux-gnu-gcc", "/usr/bin/aarch64-linux-gnu-gcc-12", {
        "--version": { stdout: crossVersion },
        "-v": { stderr: crossVerbose },
        "-dumpmachine": { stdout: "aarch64-linux-gnu\n" },
        "-print-prog-name=cc1": { stdout: "/nonexistent/gcc-cross/aarch64-linux-gnu/12/cc1\n" },
        "-print-prog-name=cc1plus": { stdout: "cc1plus\n" },
      }),
    );
    expect(d).toMatchObject({ family: "gcc", version: "12.2.0", target: "aarch64-linux-gnu", identityFiles: [], data: { cxx: false } });
    expect(d!.versionText).toContain("--target=aarch64-linux-gnu");
    expect(d!.versionText).not.toContain("COLLECT_GCC=");
  });

  it("not clang installed as gcc (macOS)", async () => {
    const d = await engine.hooks.detectCompiler.promise(
      fakeProbe("/usr/bin/gcc", "/usr/bin/gcc", {
        "--version": { stdout: "Apple clang version 15.0.0 (clang-1500.0.40.1)\nTarget: arm64-apple-darwin23.0.0\n" },
        "-v": { stderr: "Apple clang version 15.0.0\n" },
      }),
    );
    expect(d).toBeUndefined();
  });

  it("not the preprocessor driver or other front ends", async () => {
    const answers = { "--version": { stdout: "cpp (Debian 12.2.0-14) 12.2.0\n" }, "-v": { stderr: "gcc version 12.2.0\n" } };
    expect(await engine.hooks.detectCompiler.promise(fakeProbe("/usr/bin/cpp", "/usr/bin/cpp-12", answers))).toBeUndefined();
    expect(await engine.hooks.detectCompiler.promise(fakeProbe("/usr/bin/gfortran", "/usr/bin/gfortran-12", answers))).toBeUndefined();
  });

  it("not a program that fails --version", async () => {
    expect(await engine.hooks.detectCompiler.promise(fakeProbe("/usr/bin/true", "/usr/bin/true", { "--version": { exitCode: 1 } }))).toBeUndefined();
  });
});
