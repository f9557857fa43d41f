import { Engine } from "@reprise/core";
import { describe, expect, it } from "vitest";
import { expectCacheable, fakeCompiler, parseInput } from "../../plugin-gcc/test/helpers.js";
import { clangPlugin } from "../src/index.js";

const engine = new Engine().use(clangPlugin);
const parse = (args: string[], env: Record<string, string> = {}) =>
  expectCacheable(
    engine.hooks.parseArguments.for("clang").call(parseInput(["/usr/bin/clang", ...args], { cwd: "/work/proj", env, compiler: fakeCompiler("clang", { path: "/usr/bin/clang" }) })),
  );

describe("clang: code a call loads", () => {
  it("names -fplugin=, -fpass-plugin= and the variables that rewrite or load the compiler", () => {
    expect(parse(["-O2", "-c", "a.c"]).loadsCode).toBeUndefined();
    expect(parse(["-fpass-plugin=./pass.so", "-c", "a.c"]).loadsCode).toEqual(["-fpass-plugin=./pass.so"]);
    expect(parse(["-fplugin=./evil.so", "-c", "a.c"]).loadsCode).toEqual(["-fplugin=./evil.so"]);
    expect(parse(["-c", "a.c"], { CCC_OVERRIDE_OPTIONS: "+-fplugin=./evil.so" }).loadsCode).toEqual(["CCC_OVERRIDE_OPTIONS=+-fplugin=./evil.so"]);
    expect(parse(["-c", "a.c"]).jobEnv?.names).toContain("PATH");
  });
});
