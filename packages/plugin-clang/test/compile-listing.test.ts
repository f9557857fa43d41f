import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine, type CompileInvocation } from "@reprise/core";
import { listForClang, readTraceLibrary, readTraceWorks } from "@reprise/plugin-gcc";
import { afterAll, describe, expect, it } from "vitest";
import { clangPlugin } from "../src/index.js";
// Shared with the gcc plugin's tests: ParseInput builders.
import { expectCacheable, fakeCompiler, parseInput, removeTempDirs, tempDir } from "../../plugin-gcc/test/helpers.js";

afterAll(removeTempDirs);

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

describe("clang: the identities of what a miss's compile read", () => {
  const clang = (args: string[], data: Record<string, unknown> = { cxx: false, readTrace: true }) =>
    expectCacheable(engine.hooks.parseArguments.for("clang").call(parseInput(["/usr/bin/clang", ...args], { cwd: CWD, compiler: fakeCompiler("clang", { data }) })));

  it("-MD and no dependency option: the read tracer runs in every process of the compile (cc1 runs inside the driver)", () => {
    const md = clang(["-c", "a.c", "-MD"]).dependencies;
    expect(md).toMatchObject({ listFile: expect.stringMatching(/\.reads$/) as unknown, listEnv: { LD_PRELOAD: readTraceLibrary(), REPRISE_READ_TRACE_ALL: "1" } });
    expect(md.scanArgv).toBeUndefined();
    expect(clang(["-c", "a.c"]).dependencies.listFile).toMatch(/\.reads$/);
    expect(clang(["-c", "a.c", "-MD"], { cxx: false, readTrace: false }).dependencies.listFile).toBeUndefined();
    // -MMD: the graph lists the files (the trace would also list what the driver opens).
    expect(clang(MMD).dependencies.listFile).toMatch(/\.deps\.dot$/);
  });

  it("a real clang compile: an identity for each file it read through read(), none for one LLVM mapped into memory", async () => {
    expect(await readTraceWorks("/usr/bin/clang", { everyProcess: true }), "the tracer works with clang").toBe(true);
    expect(await readTraceWorks("/usr/bin/clang"), "not without tracing the driver's own process").toBe(false);
    const dir = tempDir();
    // LLVM maps files of 16 KiB and more (unless their size is a multiple of the page size): read through their pages after the close.
    writeFileSync(join(dir, "big.h"), `${"/* padding */\n".repeat(6000)}#define BIG 1\n`);
    writeFileSync(join(dir, "small.h"), "#define SMALL 2\n");
    writeFileSync(join(dir, "a.c"), '#include "big.h"\n#include "small.h"\nint a = BIG + SMALL;\n');
    const trace = join(dir, "trace");
    execFileSync("/usr/bin/clang", ["-c", "a.c", "-o", "a.o", "-MD"], { cwd: dir, env: { ...process.env, LD_PRELOAD: readTraceLibrary()!, REPRISE_READ_TRACE: trace, REPRISE_READ_TRACE_ALL: "1" } });
    const listed = readFileSync(trace, "utf8");
    const invocation = { sourceFile: join(dir, "a.c"), dependencies: { depFile: join(dir, "a.d") } } as unknown as CompileInvocation;
    const reads = listForClang({ invocation, cwd: dir, listed, depText: readFileSync(join(dir, "a.d"), "utf8") });
    expect(reads && !Array.isArray(reads) ? [...reads.identities!.keys()].filter((p) => p.startsWith(dir)).sort() : reads).toEqual([join(dir, "a.c"), join(dir, "small.h")]);
    const big = listed.split("\n").filter((l) => l.endsWith("big.h"));
    expect(big, "the mapped header is traced by its path alone").toHaveLength(1);
    expect(big[0]).not.toMatch(/^#/);
  });
});
