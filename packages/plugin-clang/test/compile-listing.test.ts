import { Engine } from "@reprise/core";
import { describe, expect, it } from "vitest";
import { clangPlugin } from "../src/index.js";
// Shared with the gcc plugin's tests: ParseInput builders.
import { expectCacheable, fakeCompiler, parseInput } from "../../plugin-gcc/test/helpers.js";

const engine = new Engine().use(clangPlugin);
const CWD = "/work/proj";
const MMD = ["-g", "-Iinc", "-c", "a.c", "-o", "a.o", "-MMD", "-MP"];

describe("clang: planning a -MMD miss with cc1's dependency graph", () => {
  const clang = (args: string[]) => expectCacheable(engine.hooks.parseArguments.for("clang").call(parseInput(["/usr/bin/clang", ...args], { cwd: CWD, compiler: fakeCompiler("clang") })));

  it("the graph is asked of the local compile only: a job runs the user's command line", () => {
    const inv = clang(MMD);
    const listFile = inv.dependencies.listFile!;
    expect(listFile).toMatch(/\.deps\.dot$/);
    expect(inv.compileArgv).toEqual(["/usr/bin/clang", ...MMD, "-Xclang", "-dependency-dot", "-Xclang", listFile]);
    expect(inv.jobArgv).toEqual(["/usr/bin/clang", ...MMD]);
    expect(inv.dependencies.scanArgv).toContain("-M");
  });

  it.each([["-include", "pre.h"], ["--sysroot=/opt/sdk"], ["-Xclang", "-fno-pch-timestamp"], ["-frecord-command-line"], ["-fsanitize=address"]])(
    "not with %s (the graph would miss a file, name it otherwise, or show in the object)",
    (...extra) => {
      const inv = clang([...MMD, ...extra]);
      expect(inv.dependencies.listFile).toBeUndefined();
      expect(inv.dependencies.scanArgv).toBeDefined();
    },
  );
});
