import { appendFileSync, chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

/**
 * A direct-mode miss looks up the preprocessed text's key before compiling
 * where that can pay (a sibling's -D, -MMD, a racy source; a header edit
 * with idle copies on, the default; `REPRISE_PREPROCESSOR_FALLBACK_COPIES=0` turns them off):
 * a comment appended to a header changes the header's hash (direct miss) but
 * not the preprocessed text, and the object is the same bytes. By default a
 * comment edit is served by text digests (test/e2e/text-digest.test.ts).
 */
const COPIES = { env: { REPRISE_PREPROCESSOR_FALLBACK_COPIES: "1" } };
const NO_COPIES = { env: { REPRISE_PREPROCESSOR_FALLBACK_COPIES: "0" } };
let sb: RepriseSandbox;
let w: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "proj");
  mkdirSync(join(w, "include"), { recursive: true });
});

afterAll(async () => {
  await sb.dispose();
});

/** Compiles plainly and through Reprise, asserts the same bytes; returns the stats' change. */
async function compileAndCompare(argv: string[], outputs: string[], opts: { env?: Record<string, string> } = {}) {
  const clean = () => outputs.forEach((f) => rmSync(join(w, f), { force: true }));
  clean();
  const ref = await plain(argv[0]!, argv.slice(1), w);
  expect(ref.exitCode, text(ref.stderr)).toBe(0);
  const want = outputs.map((f) => readFileSync(join(w, f)));
  clean();
  const before = await sb.stats();
  const got = await sb.run(argv, w, opts);
  expect(got.exitCode, text(got.stderr)).toBe(0);
  expect(text(got.stderr)).toBe(text(ref.stderr));
  const after = await sb.stats();
  outputs.forEach((f, i) => expect(readFileSync(join(w, f)).equals(want[i]!), `${f} is byte-identical to a plain compile`).toBe(true));
  return { direct: after.hitsDirect - before.hitsDirect, preprocessor: after.hitsPreprocessor - before.hitsPreprocessor, misses: after.misses - before.misses };
}

/** A compiler that logs each of its command lines, then runs the real one. */
function loggingCompiler(cc: string, dirName: string): { path: string; runs: () => string[][] } {
  const dir = join(w, dirName);
  mkdirSync(dir, { recursive: true });
  const log = join(dir, "calls.log");
  const path = join(dir, cc);
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec /usr/bin/${cc} "$@"\n`);
  chmodSync(path, 0o755);
  const runs = () => (readFileSync(log, { encoding: "utf8", flag: "a+" }).split("\n").filter(Boolean)).map((l) => l.split(" "));
  return { path, runs };
}

/**
 * A cold miss compiles at once; its copy under the preprocessed text's key
 * is made once the daemon is idle. Waits (bounded) until none waits, and
 * returns how many were made since `since`.
 */
async function idleCopies(since: number): Promise<number> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const s = await sb.stats();
    if (s.fallbackCopiesWaiting === 0 || Date.now() > deadline) return s.fallbackCopiesLater - since;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.each(["gcc", "clang"])("%s: a comment added to a header", (cc) => {
  it("a -D only the preprocessor reads and the text does not show (CMake's -DUSING_UV_SHARED=1) hits through the preprocessed text", async () => {
    writeFileSync(join(w, `include/${cc}-lib.h`), "#ifdef LIB_WIDE\n#define T long\n#else\n#define T int\n#endif\nT lib(T);\n");
    writeFileSync(join(w, `${cc}-test.c`), `#include "${cc}-lib.h"\nint test(int x) { return lib(x) * 2; }\n`);
    const argv = (defs: string[], out: string) => [cc, "-O2", ...defs, "-Iinclude", "-MD", "-c", `${cc}-test.c`, "-o", out];
    expect(await compileAndCompare(argv([], `${cc}-test-a.o`), [`${cc}-test-a.o`, `${cc}-test-a.d`])).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    expect(await compileAndCompare(argv(["-DUSING_LIB_SHARED=1"], `${cc}-test-b.o`), [`${cc}-test-b.o`, `${cc}-test-b.d`])).toEqual({ direct: 0, preprocessor: 1, misses: 0 });
    // A -D the text shows is another entry.
    expect(await compileAndCompare(argv(["-DLIB_WIDE"], `${cc}-test-c.o`), [`${cc}-test-c.o`])).toMatchObject({ preprocessor: 0 });
  });

  it("two calls of the same text at once (CMake's two targets in step): one compiles, the other waits and hits", async () => {
    writeFileSync(join(w, `${cc}-step.c`), `#include "${cc}-lib.h"\nint step(int x) { return lib(x) - 1; }\n`);
    const argv = (defs: string[], out: string) => [cc, "-O2", ...defs, "-Iinclude", "-c", `${cc}-step.c`, "-o", out];
    const ref = await plain(cc, argv([], `${cc}-step-ref.o`).slice(1), w);
    expect(ref.exitCode, text(ref.stderr)).toBe(0);
    const before = await sb.stats();
    const runs = await Promise.all([sb.run(argv([], `${cc}-step-a.o`), w), sb.run(argv(["-DUSING_LIB_SHARED=1"], `${cc}-step-b.o`), w)]);
    for (const r of runs) expect(r.exitCode, text(r.stderr)).toBe(0);
    const after = await sb.stats();
    expect([after.misses - before.misses, after.hitsPreprocessor - before.hitsPreprocessor]).toEqual([1, 1]);
    const want = readFileSync(join(w, `${cc}-step-ref.o`));
    for (const out of [`${cc}-step-a.o`, `${cc}-step-b.o`]) expect(readFileSync(join(w, out)).equals(want), out).toBe(true);
  });

  it(cc === "clang" ? "-frecord-command-line keeps every -D in the key (the object records them)" : "-frecord-gcc-switches: GCC 12 records no -D, the fallback may serve it", async () => {
    writeFileSync(join(w, `${cc}-rec.c`), "int rec(int x) { return x + 1; }\n");
    const flag = cc === "clang" ? "-frecord-command-line" : "-frecord-gcc-switches";
    const argv = (defs: string[]) => [cc, "-O2", flag, ...defs, "-c", `${cc}-rec.c`, "-o", `${cc}-rec.o`];
    expect(await compileAndCompare(argv(["-DONE=1"]), [`${cc}-rec.o`])).toMatchObject({ misses: 1 });
    expect(await compileAndCompare(argv(["-DONE=2"]), [`${cc}-rec.o`])).toEqual(cc === "clang" ? { direct: 0, preprocessor: 0, misses: 1 } : { direct: 0, preprocessor: 1, misses: 0 });
  });

  it("without -g, idle copies on: served through the preprocessed text's key, object and dep file identical", async () => {
    const header = `include/${cc}-api.h`;
    // A raw-string-like spelling no C lexer may blank around: the header is compared by its bytes, so only the copy serves it.
    writeFileSync(join(w, header), "#define API 7\nint api(int);\n#define RAWISH R\"(x)\"\n");
    writeFileSync(join(w, `${cc}-use.c`), `#include "${cc}-api.h"\nint use(int x) { return api(x) + API; }\n`);
    const argv = [cc, "-O2", "-Iinclude", "-MD", "-c", `${cc}-use.c`, "-o", `out-${cc}/use.o`];
    mkdirSync(join(w, `out-${cc}`), { recursive: true });
    const outputs = [`out-${cc}/use.o`, `out-${cc}/use.d`];
    const copies = (await sb.stats()).fallbackCopiesLater;
    expect(await compileAndCompare(argv, outputs, COPIES)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    // The copy under the text's key is made while the daemon is idle, not before the compile.
    expect(await idleCopies(copies)).toBeGreaterThanOrEqual(1);
    appendFileSync(join(w, header), "/* a comment the preprocessor drops */\n");
    expect(await compileAndCompare(argv, outputs, COPIES)).toEqual({ direct: 0, preprocessor: 1, misses: 0 });
    // The fallback hit recorded the new header state in the manifest: the next call hits in direct mode.
    expect(await compileAndCompare(argv, outputs, COPIES)).toEqual({ direct: 1, preprocessor: 0, misses: 0 });
  });

  it("by default, a first header edit that leaves the text unchanged (a macro no unit uses) is served by the idle copy, byte-identical", async () => {
    const header = `include/${cc}-first.h`;
    writeFileSync(join(w, header), "#define FIRST 7\nint first(int);\n#define FIRST_UNUSED_0 0\n");
    writeFileSync(join(w, `${cc}-first.c`), `#include "${cc}-first.h"\nint use(int x) { return first(x) + FIRST; }\n`);
    const argv = [cc, "-O2", "-Iinclude", "-MD", "-c", `${cc}-first.c`, "-o", `${cc}-first.o`];
    const outputs = [`${cc}-first.o`, `${cc}-first.d`];
    const copies = (await sb.stats()).fallbackCopiesLater;
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    expect(await idleCopies(copies)).toBeGreaterThanOrEqual(1);
    // Another macro's line in place of the unused one: the header's tokens change (no text-digest hit), its text does not.
    writeFileSync(join(w, header), "#define FIRST 7\nint first(int);\n#define FIRST_UNUSED_1 1\n");
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 1, misses: 0 });
    // The hit recorded the new header state for direct mode (the entry rekeyed from the copy's blob).
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 1, preprocessor: 0, misses: 0 });
  });

  it("without -g, copies off: no idle copy; a header comment edit is a direct hit by text digests", async () => {
    const header = `include/${cc}-dflt.h`;
    writeFileSync(join(w, header), "#define DFLT 7\nint dflt(int);\n");
    writeFileSync(join(w, `${cc}-dflt.c`), `#include "${cc}-dflt.h"\nint use(int x) { return dflt(x) + DFLT; }\n`);
    const argv = [cc, "-O2", "-Iinclude", "-MD", "-c", `${cc}-dflt.c`, "-o", `${cc}-dflt.o`];
    const outputs = [`${cc}-dflt.o`, `${cc}-dflt.d`];
    expect(await compileAndCompare(argv, outputs, NO_COPIES)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    expect((await sb.stats()).fallbackCopiesWaiting).toBe(0);
    const byText = (await sb.stats()).hitsDirectText;
    appendFileSync(join(w, header), "/* a comment the preprocessor drops */\n");
    expect(await compileAndCompare(argv, outputs, NO_COPIES)).toEqual({ direct: 1, preprocessor: 0, misses: 0 });
    expect((await sb.stats()).hitsDirectText).toBe(byText + 1);
  });

  it("a cold miss compiles without preprocessing first; a header changed before the idle copy leaves no copy under the new text", async () => {
    const wrapped = loggingCompiler(cc, `idle-${cc}`);
    const header = `include/${cc}-idle.h`;
    writeFileSync(join(w, header), "#define IDLE 7\nint idle(int);\n");
    writeFileSync(join(w, `${cc}-idle.c`), `#include "${cc}-idle.h"\nint use(int x) { return idle(x) + IDLE; }\n`);
    writeFileSync(join(w, `${cc}-other.c`), "int other(int x) { return x * 3; }\n");
    const argv = [wrapped.path, "-O2", "-Iinclude", "-c", `${cc}-idle.c`, "-o", `${cc}-idle.o`];
    const copies = (await sb.stats()).fallbackCopiesLater;
    const before = wrapped.runs().length;
    expect(await compileAndCompare(argv, [`${cc}-idle.o`], COPIES)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    const reprise = wrapped.runs().slice(before + 1); // after the plain compile
    expect(reprise[0], "the first run of a cold miss is the compile itself").not.toContain("-E");
    // The text changes before the daemon is idle: the entry must not be copied under the new text's key.
    writeFileSync(join(w, header), "#define IDLE 8\nint idle(int);\n");
    expect(await compileAndCompare([cc, "-O2", "-c", `${cc}-other.c`, "-o", `${cc}-other.o`], [`${cc}-other.o`], COPIES)).toMatchObject({ misses: 1 });
    // Both misses' copies were decided on: only the second one's files are unchanged.
    expect(await idleCopies(copies)).toBeGreaterThanOrEqual(1);
    expect(await compileAndCompare(argv, [`${cc}-idle.o`], COPIES)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
  });

  it("after --clear, the same calls compile at once: the daemon forgets the misses it saw (no preprocessor pass first)", async () => {
    const wrapped = loggingCompiler(cc, `again-${cc}`);
    writeFileSync(join(w, `include/${cc}-again.h`), "#define AGAIN 7\nint again(int);\n");
    writeFileSync(join(w, `${cc}-again.c`), `#include "${cc}-again.h"\nint use(int x) { return again(x) + AGAIN; }\n`);
    const argv = [wrapped.path, "-O2", "-Iinclude", "-MD", "-c", `${cc}-again.c`, "-o", `${cc}-again.o`];
    const outputs = [`${cc}-again.o`, `${cc}-again.d`];
    const preprocessed = (from: number) => wrapped.runs().slice(from).filter((r) => r.includes(`${cc}-again.c`) && r.includes("-E"));
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    expect((await sb.run(["--clear"], w)).exitCode).toBe(0);
    const from = wrapped.runs().length;
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    expect(preprocessed(from)).toEqual([]);
  });

  it("with -g: no fallback (debug info records what the text lacks), compiled again", async () => {
    const header = `include/${cc}-dbg.h`;
    writeFileSync(join(w, header), "#define DBG 7\nint dbg(int);\n");
    writeFileSync(join(w, `${cc}-dbg.c`), `#include "${cc}-dbg.h"\nint use(int x) { return dbg(x) + DBG; }\n`);
    const argv = [cc, "-g", "-O2", "-Iinclude", "-c", `${cc}-dbg.c`, "-o", `${cc}-dbg.o`];
    expect(await compileAndCompare(argv, [`${cc}-dbg.o`])).toMatchObject({ misses: 1 });
    appendFileSync(join(w, header), "/* a comment */\n");
    expect(await compileAndCompare(argv, [`${cc}-dbg.o`])).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
  });

  it("a compile with warnings is not served through the fallback (its diagnostics quote the source)", async () => {
    const header = `include/${cc}-warn.h`;
    writeFileSync(join(w, header), "#define ONE 1\n");
    writeFileSync(join(w, `${cc}-warn.c`), `#include "${cc}-warn.h"\nint f(void) { int unused; return ONE; }\n`);
    const argv = [cc, "-O2", "-Wall", "-Iinclude", "-c", `${cc}-warn.c`, "-o", `${cc}-warn.o`];
    const first = await compileAndCompare(argv, [`${cc}-warn.o`]);
    expect(first).toMatchObject({ misses: 1 });
    appendFileSync(join(w, header), "/* a comment */\n");
    expect(await compileAndCompare(argv, [`${cc}-warn.o`])).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
  });
});

/**
 * GCC's text for the key is taken without macro-expansion tracking (a fifth of
 * `cc1 -E`'s work): the same tokens and lines, less the line markers that flag a
 * system header's macro expanded in the user's code. The idle copy and the
 * lookup after an edit must both take it so, or they never meet.
 */
describe("gcc: the text's key without macro-expansion tracking", () => {
  it("an edit that spells a system macro's expansion out (NULL as ((void *)0)) is served by the idle copy, byte-identical", async () => {
    const header = "include/gcc-null.h";
    writeFileSync(join(w, header), "#include <stddef.h>\n#define NOTHING NULL\n");
    writeFileSync(join(w, "gcc-null.c"), '#include "gcc-null.h"\nvoid *nothing(void) { return NOTHING; }\n');
    const argv = ["gcc", "-O2", "-Iinclude", "-MD", "-c", "gcc-null.c", "-o", "gcc-null.o"];
    const outputs = ["gcc-null.o", "gcc-null.d"];
    const copies = (await sb.stats()).fallbackCopiesLater;
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    expect(await idleCopies(copies)).toBeGreaterThanOrEqual(1);
    writeFileSync(join(w, header), "#include <stddef.h>\n#define NOTHING ((void *)0)\n");
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 1, misses: 0 });
    // A value the text shows still misses.
    writeFileSync(join(w, header), "#include <stddef.h>\n#define NOTHING ((void *)1)\n");
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
  });
});

/**
 * -MMD leaves system headers out of the user's dependency file, yet direct
 * mode must know them. Where the fallback's preprocessing runs (no -g), its
 * own complete list is used: no second scan of the source.
 */
describe.each(["gcc", "clang"])("%s: -MMD", (cc) => {
  it("without -g: no second scan, the .d byte-identical, and a changed -isystem header (left out of the .d) misses", async () => {
    const wrapped = loggingCompiler(cc, `wrap-${cc}`);
    mkdirSync(join(w, `sys-${cc}`), { recursive: true });
    writeFileSync(join(w, `sys-${cc}/sysval.h`), "#define SYSVAL 1\n");
    writeFileSync(join(w, `include/${cc}-user.h`), "#include <sysval.h>\n#define USERVAL 2\n");
    writeFileSync(join(w, `${cc}-mmd.c`), `#include <stdio.h>\n#include "${cc}-user.h"\nint v(void) { return SYSVAL + USERVAL; }\n`);
    const argv = [wrapped.path, "-O2", "-Iinclude", "-isystem", `sys-${cc}`, "-MMD", "-MP", "-c", `${cc}-mmd.c`, "-o", `${cc}-mmd.o`];
    const outputs = [`${cc}-mmd.o`, `${cc}-mmd.d`];
    const before = wrapped.runs().length;
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
    const reprise = wrapped.runs().slice(before + 1); // after the plain compile
    const scans = reprise.filter((a) => a.includes("-M") || a.includes("-MM"));
    expect(scans, reprise.map((a) => a.join(" ")).join("\n")).toEqual([]);
    expect(readFileSync(join(w, `${cc}-mmd.d`), "utf8")).not.toContain("sysval.h");
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 1, preprocessor: 0, misses: 0 });
    // The system header is in the manifest although -MMD leaves it out: changing it is a miss, never a stale object.
    writeFileSync(join(w, `sys-${cc}/sysval.h`), "#define SYSVAL 40\n");
    expect(await compileAndCompare(argv, outputs)).toEqual({ direct: 0, preprocessor: 0, misses: 1 });
  });
});
