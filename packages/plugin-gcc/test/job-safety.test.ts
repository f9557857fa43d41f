import { Engine } from "@reprise/core";
import { describe, expect, it } from "vitest";
import { gccPlugin } from "../src/index.js";
import { expectCacheable, parseInput } from "./helpers.js";

/**
 * What the gcc plugin tells hermetic mode and the farm about a call: which
 * arguments or variables would make the compiler load code they name
 * (`loadsCode`: the closure scan runs on the host, so such calls are
 * compiled locally), and which variables a job passes (`jobEnv`).
 */

const engine = new Engine().use(gccPlugin);
const parse = (args: string[], env: Record<string, string> = {}) =>
  expectCacheable(engine.hooks.parseArguments.for("gcc").call(parseInput(["/usr/bin/gcc", ...args], { cwd: "/work/proj", env })));

describe("gcc: code a call loads", () => {
  it("names plugins, specs files and the program search variables, also passed through -Wp, and -Xpreprocessor", () => {
    expect(parse(["-O2", "-c", "a.c"]).loadsCode).toBeUndefined();
    expect(parse(["-fplugin=./evil.so", "-fplugin-arg-evil-x=1", "-c", "a.c"]).loadsCode).toEqual(["-fplugin=./evil.so"]);
    expect(parse(["-specs=my.specs", "-c", "a.c"]).loadsCode).toEqual(["-specs=my.specs"]);
    expect(parse(["-specs", "my.specs", "-c", "a.c"]).loadsCode).toEqual(["-specs my.specs"]);
    expect(parse(["--specs=my.specs", "-c", "a.c"]).loadsCode).toEqual(["--specs=my.specs"]);
    expect(parse(["-Wp,-DX,-fplugin=./evil.so", "-c", "a.c"]).loadsCode).toEqual(["-Wp,-DX,-fplugin=./evil.so"]);
    expect(parse(["-Xpreprocessor", "-fplugin=./evil.so", "-c", "a.c"]).loadsCode).toEqual(["-Xpreprocessor -fplugin=./evil.so"]);
    expect(parse(["-c", "a.c"], { GCC_EXEC_PREFIX: "/tmp/evil/", LD_PRELOAD: "/tmp/evil.so" }).loadsCode).toEqual(["LD_PRELOAD=/tmp/evil.so", "GCC_EXEC_PREFIX=/tmp/evil/"]);
    expect(parse(["-c", "a.c"], { GCC_EXEC_PREFIX: "" }).loadsCode).toBeUndefined();
  });

  it("declares the variables a job passes besides the key's: PATH and diagnostics settings, never the rest", () => {
    const inv = parse(["-c", "a.c"]);
    expect(inv.jobEnv?.names).toEqual(expect.arrayContaining(["PATH", "COLUMNS"]));
    for (const secret of ["HOME", "SSH_AUTH_SOCK", "API_TOKEN", "AWS_SECRET_ACCESS_KEY"]) {
      expect(inv.jobEnv?.names).not.toContain(secret);
      expect(inv.keyEnv).not.toContain(secret);
    }
  });
});
