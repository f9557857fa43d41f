import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine, type CompileInvocation, type DependencyListInput } from "@reprise/core";
import { afterAll, describe, expect, it } from "vitest";
import { gccPlugin } from "../src/index.js";
import { listFromDependencyDot, listFromReadTrace, readTraceLibrary } from "../src/index.js";
import { expectCacheable, fakeCompiler, parseInput, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

const engine = new Engine().use(gccPlugin);
const CWD = "/work/proj";
const MMD = ["-g", "-Iinc", "-c", "a.c", "-o", "a.o", "-MMD", "-MP"];

/** A -MMD miss (its dependency file is incomplete: a scan stands by), or with `complete`, a -MD one. */
function input(listed: string | undefined, depText: string | undefined, cwd = CWD, complete = false): DependencyListInput {
  const dependencies = complete ? { depFile: `${cwd}/a.d` } : { depFile: `${cwd}/a.d`, scanArgv: ["gcc", "-M"], scanDepFile: `${cwd}/scan.d` };
  const invocation = { sourceFile: `${cwd}/a.c`, dependencies } as unknown as CompileInvocation;
  return { invocation, cwd, listed, depText };
}

describe("GCC: planning a -MMD miss with the read tracer", () => {
  const gcc = (args: string[], env: Record<string, string> = {}, data: Record<string, unknown> = { cxx: false, readTrace: true }) =>
    expectCacheable(engine.hooks.parseArguments.for("gcc").call(parseInput(["/usr/bin/gcc", ...args], { cwd: CWD, env, compiler: fakeCompiler("gcc", { data }) })));

  it("the compile alone gets the tracer; the scan stays as the fallback; the command line is the user's", () => {
    expect(readTraceLibrary(), "built by npm run build").toBeDefined();
    const inv = gcc(MMD, { LD_PRELOAD: "/opt/their.so" });
    const deps = inv.dependencies;
    expect(deps.listFile).toMatch(/\.reads$/);
    expect(deps.listEnv).toEqual({ LD_PRELOAD: `/opt/their.so:${readTraceLibrary()}`, REPRISE_READ_TRACE: deps.listFile, REPRISE_READ_TRACE_ALL: "0" });
    expect(deps.scanArgv).toContain("-M");
    expect(inv.compileArgv).toEqual(["/usr/bin/gcc", ...MMD]);
    expect(inv.compileEnv).toBeUndefined();
    expect(inv.jobArgv).toBeUndefined();
  });

  it("not when detection found the tracer unusable with this compiler, nor when the caller traces already", () => {
    expect(gcc(MMD, {}, { cxx: false, readTrace: false }).dependencies.listFile).toBeUndefined();
    expect(gcc(MMD, { REPRISE_READ_TRACE: "/tmp/theirs" }).dependencies.listFile).toBeUndefined();
  });

  it("-MD and no dependency option: the dependency file is complete, and the tracer gives the files' identities", () => {
    const md = gcc(["-c", "a.c", "-MD"]).dependencies;
    expect(md).toMatchObject({ depFile: `${CWD}/a.d`, listFile: expect.stringMatching(/\.reads$/) as unknown, listEnv: { LD_PRELOAD: readTraceLibrary() } });
    expect(md.scanArgv).toBeUndefined();
    const none = gcc(["-c", "a.c"]);
    expect(none.dependencies.listFile).toMatch(/\.reads$/);
    expect(none.dependencies.depFileIsTemporary).toBe(true);
    expect(gcc(["-c", "a.c", "-MD"], {}, { cxx: false, readTrace: false }).dependencies).toEqual({ depFile: `${CWD}/a.d` });
  });
});

describe("reading the read trace", () => {
  const trace = (...lines: string[]) => `${lines.join("\n")}\n`;
  const dep = "a.o: a.c inc/x.h\ninc/x.h:\n";

  it("every path cc1 opened for reading, once, absolute; devices and /proc left out", () => {
    const list = listFromReadTrace(input(trace("a.c", "/usr/include/stdio.h", "inc/x.h", "inc/x.h", "/dev/null", "/proc/self/maps", "a.c", "#end"), dep));
    expect(list?.files).toEqual([`${CWD}/a.c`, "/usr/include/stdio.h", `${CWD}/inc/x.h`]);
  });

  it("the identity cc1 took of each file it read, by absolute path; none for a file seen with two", () => {
    const reads = listFromReadTrace(
      input(trace("#id 1 2 3 4 5 a.c", "#id 1 9 30 40 50 /usr/include/stdio.h", "#id 1 7 3 4 5 inc/x.h", "#id 1 7 3 4 6 ./inc/x.h", "/dev/null", "#end"), dep),
    );
    expect(reads?.files).toEqual([`${CWD}/a.c`, "/usr/include/stdio.h", `${CWD}/inc/x.h`]);
    expect(reads?.identities).toEqual(new Map([[`${CWD}/a.c`, "1 2 3 4 5"], ["/usr/include/stdio.h", "1 9 30 40 50"]]));
  });

  it("a -MD miss gets the identities only (its own dependency file lists the files)", () => {
    const reads = listFromReadTrace(input(trace("#id 1 2 3 4 5 a.c", "#id 1 7 3 4 5 inc/x.h", "#end"), dep, CWD, true));
    expect(reads).toEqual({ identities: new Map([[`${CWD}/a.c`, "1 2 3 4 5"], [`${CWD}/inc/x.h`, "1 7 3 4 5"]]) });
  });

  it("a trace that cannot list every file still gives the identities it has; one cut short gives nothing", () => {
    const reads = listFromReadTrace(input(trace("#id 1 2 3 4 5 a.c", "#incomplete", "#id 1 7 3 4 5 inc/x.h", "#end"), dep));
    expect(reads?.files).toBeUndefined();
    expect(reads?.identities?.size).toBe(2);
    expect(listFromReadTrace(input(trace("#id 1 2 3 4 5 a.c", "#id 1 7 3 4 5 inc/x.h"), dep))).toBeNull();
  });

  it.each([
    ["not written", undefined],
    ["cut short (no #end)", trace("a.c", "inc/x.h")],
    ["with a path it could not follow", trace("a.c", "#incomplete", "inc/x.h", "#end")],
    ["of two cc1 runs", trace("a.c", "inc/x.h", "#end", "/tmp/cc.i", "#end")],
    ["naming a precompiled header", trace("a.c", "inc/x.h", "inc/x.h.gch", "#end")],
    ["without a file of the user's dependency file", trace("a.c", "/usr/include/stdio.h", "#end")],
    ["without the source", trace("inc/x.h", "#end")],
  ])("a trace %s gives no list (the engine scans)", (_what, listed) => {
    expect(listFromReadTrace(input(listed, dep))?.files).toBeUndefined();
  });
});

describe("reading clang's dependency graph", () => {
  const dir = tempDir();
  mkdirSync(join(dir, "inc"), { recursive: true });
  writeFileSync(join(dir, "a.c"), "");
  writeFileSync(join(dir, "inc/x.h"), "");
  const graph = (...labels: string[]) =>
    `digraph "dependencies" {\n${labels.map((l, i) => `  header_${i} [ shape="box", label="${l}"];`).join("\n")}\n\n  header_1 -> header_0\n}\n`;
  const dep = "a.o: a.c inc/x.h\n";

  it("absolute paths come back with their leading /; relative ones against the working directory", () => {
    expect(listFromDependencyDot(input(graph("a.c", "usr/include/stdio.h", "inc/x.h"), dep, dir))).toEqual([join(dir, "a.c"), "/usr/include/stdio.h", join(dir, "inc/x.h")]);
  });

  it.each([
    ["not written", undefined],
    ["cut short", graph("a.c", "inc/x.h").slice(0, -3)],
    ["with an escaped label", graph("a.c", "inc/x.h", 'odd\\"name.h')],
    ["naming a file that is not there", graph("a.c", "inc/x.h", "gone.h")],
    ["without a file of the user's dependency file", graph("a.c", "usr/include/stdio.h")],
  ])("a graph %s gives no list (the engine scans)", (_what, listed) => {
    expect(listFromDependencyDot(input(listed, dep, dir))).toBeNull();
  });
});
