/** gcc across hosts (docs/cross-arch.md): what its equivalence covers, with the real gcc 12 and Debian's cross gcc. */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { CompilerInfo } from "@reprise/core";
import { gccPortableToolchain, gccVersionLine, includeSearchDirectories } from "../src/index.js";

function compiler(path: string): CompilerInfo {
  const versionText = execFileSync(path, ["--version"], { encoding: "utf8" });
  const target = execFileSync(path, ["-dumpmachine"], { encoding: "utf8" }).trim();
  return { family: "gcc", path, realPath: path, version: "12", versionText, target, identity: "x" };
}

describe("gcc portable toolchain", () => {
  it("the version line without the program's name keeps the distribution's build", () => {
    expect(gccVersionLine("x86_64-linux-gnu-gcc-12 (Debian 12.2.0-14) 12.2.0\nCopyright ...")).toBe("(Debian 12.2.0-14) 12.2.0");
    expect(gccVersionLine(compiler("/usr/bin/gcc-12").versionText)).toMatch(/^\(Debian 12\.2\.0-14\+deb12u\d+\) 12\.2\.0$/);
  });

  it("include search directories, kept or missing here, sorted", () => {
    const stderr = 'ignoring nonexistent directory "/usr/local/include/x86_64-linux-gnu"\n#include "..." search starts here:\n#include <...> search starts here:\n /usr/lib/gcc/x86_64-linux-gnu/12/include\n /usr/include\nEnd of search list.\n';
    expect(includeSearchDirectories(stderr)).toEqual(["/usr/include", "/usr/lib/gcc/x86_64-linux-gnu/12/include", "/usr/local/include/x86_64-linux-gnu"]);
  });

  it("only for its own target; a cross gcc for another target has another value; stable across calls", async () => {
    const gcc = compiler("/usr/bin/gcc-12");
    expect(await gccPortableToolchain(gcc, "aarch64-linux-gnu")).toBeUndefined();
    const a = await gccPortableToolchain(gcc, gcc.target!);
    expect(a).toMatchObject({ targetArgs: [], files: [] });
    expect(a!.equivalence).toMatch(/^[0-9a-f]{64}$/);
    expect((await gccPortableToolchain(gcc, gcc.target!))!.equivalence).toBe(a!.equivalence);
    const cross = compiler("/usr/bin/aarch64-linux-gnu-gcc-12");
    const b = await gccPortableToolchain(cross, cross.target!);
    expect(b!.equivalence).not.toBe(a!.equivalence);
  });

  it("the C++ driver has an equivalence too (the canary is valid C++)", async () => {
    const gxx = compiler("/usr/bin/g++-12");
    const a = await gccPortableToolchain(gxx, gxx.target!);
    expect(a!.equivalence).toMatch(/^[0-9a-f]{64}$/);
    // It compiles the canary as C++ (mangled names): never the C driver's value.
    const gcc = compiler("/usr/bin/gcc-12");
    expect((await gccPortableToolchain(gcc, gcc.target!))!.equivalence).not.toBe(a!.equivalence);
  });
});
