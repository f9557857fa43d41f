import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "@reprise/core";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gccPlugin, parseIncludeSearch } from "../src/index.js";
import { clangPlugin } from "../../plugin-clang/src/index.js";
import { expectCacheable, parseInput, realProbe, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

/** What the real gcc 12 and clang 14 report as their include search, through the command each call's plan names. */
describe("include search (for direct mode's absent-path guards)", () => {
  let dir: string;
  let tmp: string;
  beforeAll(() => {
    dir = tempDir();
    tmp = tempDir();
    mkdirSync(join(dir, "a"));
    mkdirSync(join(dir, "q"));
  });

  for (const [family, path, plugin] of [
    ["gcc", "/usr/bin/gcc", gccPlugin],
    ["clang", "/usr/bin/clang", clangPlugin],
  ] as const) {
    it(`${family}: the quote and angle lists in order, and the directories left out as missing`, async () => {
      const engine = new Engine().use(plugin);
      const detected = await engine.hooks.detectCompiler.promise(realProbe(path));
      if (!detected) throw new Error(`${family} not detected`);
      const compiler = { ...detected, identity: "test" };
      const args = ["-iquote", "q", "-Ia", "-Imissing", "-isystem", "sys-missing", "-DX=1", "-c", "x.c", "-o", "x.o"];
      const inv = expectCacheable(engine.hooks.parseArguments.for(family).call(parseInput([path, ...args], { cwd: dir, compiler, tmp })));
      const argv = inv.includeSearchArgv!;
      expect(argv).toBeDefined();
      expect(argv).not.toContain("x.c");
      const r = await execa(argv[0]!, argv.slice(1), { cwd: dir, reject: false });
      expect(r.exitCode).toBe(0);
      const search = engine.hooks.includeSearch.get(family)!.call({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1, cwd: dir })!;
      expect(search.quote).toEqual(["q"]);
      expect(search.angle[0]).toBe("a");
      expect(search.angle).toContain("/usr/include");
      expect(search.angle.indexOf("/usr/include")).toBe(search.angle.length - 1);
      expect(search.missing).toEqual(expect.arrayContaining(["missing", "sys-missing"]));
    });
  }

  it("a report without the search list says nothing", () => {
    expect(parseIncludeSearch({ stdout: "", stderr: "gcc: error: x\n", exitCode: 1, cwd: "/" })).toBeUndefined();
  });
});
