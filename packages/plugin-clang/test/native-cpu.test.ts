import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine, type CompilerInfo } from "@reprise/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectCacheable, parseInput, realProbe, removeTempDirs, tempDir } from "../../plugin-gcc/test/helpers.js";
import { clangPlugin } from "../src/index.js";

/** -march=native with the real clang: keyed by the CPU, and a job's command line gives the plain compile's object, -g included. */

afterAll(removeTempDirs);

const engine = new Engine().use(clangPlugin);
let dir: string;
let compiler: CompilerInfo;

beforeAll(async () => {
  dir = tempDir();
  writeFileSync(join(dir, "m.c"), "float dot(const float *a, const float *b, int n) { float s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }\n");
  const d = await engine.hooks.detectCompiler.promise(realProbe("/usr/bin/clang"));
  if (!d) throw new Error("clang not detected");
  compiler = { ...d, identity: "native-test" };
});

const plan = (args: string[]) => expectCacheable(engine.hooks.parseArguments.for(compiler.family).call(parseInput(["/usr/bin/clang", ...args], { cwd: dir, compiler, tmp: dir })));

describe("clang -march=native", () => {
  it("keys by the CPU and its features; a job's command line gives the plain compile's object, debug info and ThinLTO included", () => {
    for (const extra of [["-O2", "-g"], ["-O2", "-flto=thin"], ["-O1", "-mtune=native"]]) {
      const args = [...extra, "-march=native", "-c", "m.c", "-o", "m.o"];
      const inv = plan(args);
      expect(inv.keyArgs.join(" ")).not.toContain("native");
      expect(inv.keyArgs).toEqual(expect.arrayContaining(["-target-feature"]));
      expect(inv.unportable).toBeUndefined();
      execFileSync("/usr/bin/clang", [...args.slice(0, -1), join(dir, "plain.o")], { cwd: dir });
      const jobArgv = inv.jobArgv!.map((a) => (a === join(dir, "m.o") || a === "m.o" ? join(dir, "job.o") : a));
      execFileSync(jobArgv[0]!, jobArgv.slice(1), { cwd: dir });
      expect(readFileSync(join(dir, "job.o")).equals(readFileSync(join(dir, "plain.o"))), args.join(" ")).toBe(true);
    }
    expect(plan(["-O2", "-march=native", "-c", "m.c"]).keyArgs).not.toEqual(plan(["-O2", "-march=x86-64", "-c", "m.c"]).keyArgs);
  });

  it("says a job cannot reproduce -march=native beside a feature option of the user's", () => {
    expect(plan(["-O2", "-march=native", "-mno-avx", "-c", "m.c"]).unportable).toMatch(/-mno-avx/);
    expect(plan(["-O2", "-march=native", "-m64", "-c", "m.c"]).unportable).toBeUndefined();
  });
});
