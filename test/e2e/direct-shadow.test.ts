// Direct mode and a header created after an entry was stored: one that
// shadows a header the compile read (earlier on the include search), or one
// only a `__has_include` probe finds. A plain compile of the new state
// differs; neither the daemon nor the native client (from its hit index) may
// serve the old object. Each case fails without the absent-path guards.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox } from "../support/reprise-env.js";

/** Files and directories changed this recently are not vouched for by their stat (RACY_WINDOW_MS), plus a margin. */
const RACY_WAIT_MS = 2300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sb: RepriseSandbox;
let root: string;
let index: string;

interface Case {
  dir: string;
  argv: string[];
  /** The object the argv writes (relative to dir). */
  object: string;
}

function write(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

function indexEntries(): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of existsSync(index) ? readdirSync(index) : []) {
    if (/^[0-9a-f]{16}$/.test(name)) out.set(name, statSync(join(index, name)).mtimeMs);
  }
  return out;
}

/** Whether index entry `name` is for a call whose files lie in `dir` (its watched paths name them). */
function entryOf(name: string, dir: string): boolean {
  try {
    return readFileSync(join(index, name)).includes(`${dir}/`);
  } catch {
    return false;
  }
}

/**
 * Waits (bounded) until the daemon (re)wrote a hit-index entry for a call in `dir` since `before`: it writes a
 * miss's once idle for 2 s (another case's entry, written late, must not pass for it).
 */
async function indexEntryWritten(before: Map<string, number>, dir: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    for (const [name, mtime] of indexEntries()) if (before.get(name) !== mtime && entryOf(name, dir)) return;
    await sleep(20);
  }
  throw new Error(`the daemon wrote no hit-index entry for ${dir}: ${JSON.stringify((await sb.stats()).hitIndexSkipped)}\n${sb.daemonLogTail(40)}`);
}

async function build(c: Case) {
  const before = await sb.stats();
  const r = await sb.run(c.argv, c.dir);
  expect(r.exitCode, Buffer.from(r.stderr as Uint8Array).toString()).toBe(0);
  const after = await sb.stats();
  return { byClient: after.hitsByClient > before.hitsByClient, hitsDirect: after.hitsDirect - before.hitsDirect, stats: after };
}

/** The object a plain compile of the current state writes (the same command, another -o). */
async function plainObject(c: Case): Promise<Buffer> {
  const ref = `${c.object}.plain.o`;
  const argv = c.argv.map((a) => (a === c.object ? ref : a));
  const r = await plain(argv[0]!, argv.slice(1), c.dir);
  expect(r.exitCode).toBe(0);
  const out = readFileSync(join(c.dir, ref));
  rmSync(join(c.dir, ref));
  return out;
}

async function expectLikePlain(c: Case): Promise<void> {
  const got = readFileSync(join(c.dir, c.object));
  expect(got.equals(await plainObject(c)), `${c.object} differs from a plain compile of the new state`).toBe(true);
}

/**
 * The case's call is cached, and answered by the native client from its
 * index; then `change` makes a plain compile differ: the next call must be
 * neither the client's answer nor a stale one.
 */
async function shadowCase(c: Case, change: () => void, explained?: () => Promise<void>): Promise<void> {
  const before = indexEntries();
  // Answered by the client already when an earlier case left an entry for this very call. Otherwise a daemon hit
  // indexes its entry at once, where a miss's waits for the daemon to be idle, which a loaded machine stretches.
  if (!(await build(c)).byClient) await indexEntryWritten(before, c.dir);
  const warm = await build(c);
  expect(warm.byClient, `the unchanged call is answered by the native client (not indexed: ${JSON.stringify(warm.stats.hitIndexSkipped)})`).toBe(true);
  await expectLikePlain(c);
  const old = readFileSync(join(c.dir, c.object));
  change();
  await explained?.();
  const changed = await build(c);
  expect(changed.byClient, "the client must not answer once a new header changes the compile").toBe(false);
  await expectLikePlain(c);
  expect(readFileSync(join(c.dir, c.object)).equals(old), "the new header changes the object").toBe(false);
  // And the entry stored for the new state is used from then on.
  const again = await build(c);
  expect(again.hitsDirect).toBe(1);
  await expectLikePlain(c);
}

const cases: Record<string, Case> = {};
function defineCase(name: string, argv: string[], files: Record<string, string>): Case {
  const dir = join(root, name);
  for (const [path, content] of Object.entries(files)) write(join(dir, path), content);
  const c = { dir, argv, object: argv[argv.indexOf("-o") + 1]! };
  cases[name] = c;
  return c;
}

describe("direct mode and headers created after the entry was stored", () => {
  beforeAll(async () => {
    sb = new RepriseSandbox({}, "native");
    root = join(sb.root, "w");
    index = join(sb.runtimeDir, "hit-index");
    defineCase("earlier-dir", ["gcc", "-Ia", "-Ib", "-c", "x.c", "-o", "x.o"], {
      "x.c": '#include "h.h"\nint x = V;\n',
      "b/h.h": "#define V 1\n",
      "a/keep": "",
    });
    defineCase("includer-dir", ["gcc", "-Ib", "-c", "x.c", "-o", "x.o"], {
      "x.c": '#include "hdr/outer.h"\nint x = V;\n',
      "hdr/outer.h": '#include "h.h"\n',
      "b/h.h": "#define V 1\n",
    });
    defineCase("new-subdir", ["gcc", "-Ia", "-Ib", "-c", "x.c", "-o", "x.o"], {
      "x.c": "#include <sub/h.h>\nint x = V;\n",
      "b/sub/h.h": "#define V 1\n",
      "a/keep": "",
    });
    defineCase("include-next", ["gcc", "-Ia", "-Ib", "-Ic", "-c", "x.c", "-o", "x.o"], {
      "x.c": "#include <h.h>\nint x = V + W;\n",
      "a/h.h": "#define W 10\n#include_next <h.h>\n",
      "c/h.h": "#define V 1\n",
      "b/keep": "",
    });
    defineCase("probe-angle", ["gcc", "-Ia", "-c", "x.c", "-o", "x.o"], {
      "x.c": "#if __has_include(<opt.h>)\n#include <opt.h>\n#else\n#define V 0\n#endif\nint x = V;\n",
      "a/keep": "",
    });
    defineCase("probe-quote", ["gcc", "-c", "x.c", "-o", "x.o"], {
      "x.c": '#if __has_include("opt.h")\n#define HAVE 1\n#else\n#define HAVE 0\n#endif\nint x = HAVE;\n',
    });
    defineCase("probe-found", ["gcc", "-c", "x.c", "-o", "x.o"], {
      "x.c": '#if __has_include("opt.h")\n#define HAVE 1\n#else\n#define HAVE 0\n#endif\nint x = HAVE;\n',
      "opt.h": "\n",
    });
    defineCase("probe-macro", ["gcc", "-Ia", "-c", "x.c", "-o", "x.o"], {
      "x.c": "#define OPT <opt.h>\n#if __has_include(OPT)\n#define HAVE 1\n#else\n#define HAVE 0\n#endif\nint x = HAVE;\n",
      "a/keep": "",
    });
    defineCase("probe-macro-header", ["gcc", "-Ia", "-c", "x.c", "-o", "x.o"], {
      "x.c": '#include "cfg.h"\nint x = HAVE;\n',
      "cfg.h": "#define OPT <opt.h>\n#if __has_include(OPT)\n#define HAVE 1\n#else\n#define HAVE 0\n#endif\n",
      "a/keep": "",
    });
    defineCase("computed-include", ["gcc", "-Ib", "-c", "x.c", "-o", "x.o"], {
      "x.c": '#define HDR "h.h"\n#include HDR\nint x = V;\n',
      "b/h.h": "#define V 1\n",
    });
    defineCase("forced-include", ["gcc", "-Ib", "-include", "h.h", "-c", "src/x.c", "-o", "x.o"], {
      "src/x.c": "int x = V;\n",
      "b/h.h": "#define V 1\n",
    });
    // Quoted includes found along -Iinc: each source's own directory, src/, is searched first, and every object lands there.
    const sources: Record<string, string> = { "inc/common.h": "#define BASE 7\n" };
    for (let i = 0; i < 6; i++) sources[`src/f${i}.c`] = `#include <stdio.h>\n#include "common.h"\nint f${i}(void) { return BASE + ${i}; }\n`;
    defineCase("objects-in-source-dir", ["gcc", "-Iinc", "-c", "src/f0.c", "-o", "src/f0.o"], sources);
    await sleep(RACY_WAIT_MS);
  }, 30_000);

  afterAll(async () => {
    await sb?.dispose();
  });

  it("a header created in an earlier -I directory; --explain names it", async () => {
    const c = cases["earlier-dir"]!;
    await shadowCase(c, () => write(join(c.dir, "a/h.h"), "#define V 2\n"), async () => {
      const r = await sb.run(["--explain", ...c.argv], c.dir);
      expect(Buffer.from(r.stdout as Uint8Array).toString()).toContain("a/h.h appeared since the cached entry");
    });
  }, 120_000);

  it("a header created in the directory of the header that includes it with quotes", async () => {
    const c = cases["includer-dir"]!;
    await shadowCase(c, () => write(join(c.dir, "hdr/h.h"), "#define V 2\n"));
  }, 120_000);

  it("a new subdirectory holding a header of the same name (<sub/h.h>)", async () => {
    const c = cases["new-subdir"]!;
    await shadowCase(c, () => write(join(c.dir, "a/sub/h.h"), "#define V 2\n"));
  }, 120_000);

  it("a header created between the includer's directory and the one #include_next found", async () => {
    const c = cases["include-next"]!;
    await shadowCase(c, () => write(join(c.dir, "b/h.h"), "#define V 2\n"));
  }, 120_000);

  it("a header only __has_include(<...>) asked about", async () => {
    const c = cases["probe-angle"]!;
    await shadowCase(c, () => write(join(c.dir, "a/opt.h"), "#define V 5\n"));
  }, 120_000);

  it('a header only __has_include("...") asked about, changing only a macro', async () => {
    const c = cases["probe-quote"]!;
    await shadowCase(c, () => write(join(c.dir, "opt.h"), "\n"));
  }, 120_000);

  it("a removed header that a probe had found", async () => {
    const c = cases["probe-found"]!;
    await shadowCase(c, () => rmSync(join(c.dir, "opt.h")));
  }, 120_000);

  it("a header created in the includer's directory, for an include that names a macro", async () => {
    const c = cases["computed-include"]!;
    await shadowCase(c, () => write(join(c.dir, "h.h"), "#define V 2\n"));
  }, 120_000);

  it("a header created in the working directory, for -include", async () => {
    const c = cases["forced-include"]!;
    await shadowCase(c, () => write(join(c.dir, "h.h"), "#define V 2\n"));
  }, 120_000);

  it("__has_include(MACRO) makes the call use preprocessor mode, counted", async () => {
    const c = cases["probe-macro"]!;
    const first = await build(c);
    const second = await build(c);
    expect(second.stats.misses, "the first call's result is kept for preprocessor mode: no second compile").toBe(first.stats.misses);
    expect(second.stats.hitsPreprocessor).toBe(first.stats.hitsPreprocessor + 1);
    expect(second.hitsDirect).toBe(0);
    expect(second.byClient).toBe(false);
    expect(second.stats.preprocessorInstead["has-include-macro"]).toBeGreaterThanOrEqual(1);
    await expectLikePlain(c);
    write(join(c.dir, "a/opt.h"), "\n");
    const changed = await build(c);
    expect(changed.byClient).toBe(false);
    await expectLikePlain(c);
    expect(changed.stats.preprocessorInstead["has-include-macro"]).toBeGreaterThan(second.stats.preprocessorInstead["has-include-macro"]!);
  }, 120_000);

  it("a header probing __has_include(MACRO): the first compile's result is the next call's hit, byte for byte", async () => {
    const c = cases["probe-macro-header"]!;
    const before = await sb.stats();
    const first = await build(c);
    expect(first.stats.misses).toBe(before.misses + 1);
    await expectLikePlain(c);
    const second = await build(c);
    expect(second.stats.misses, "no second compile: the miss was kept under its preprocessed text's key").toBe(first.stats.misses);
    expect(second.stats.hitsPreprocessor).toBe(first.stats.hitsPreprocessor + 1);
    expect(second.hitsDirect).toBe(0);
    expect(second.byClient).toBe(false);
    expect(second.stats.preprocessorInstead["has-include-macro"]).toBeGreaterThan(before.preprocessorInstead["has-include-macro"] ?? 0);
    await expectLikePlain(c);
    const explain = async () => Buffer.from((await sb.run(["--explain", ...c.argv], c.dir)).stdout as Uint8Array).toString();
    expect(await explain()).toMatch(/^hit: .*preprocessor mode/);
    const old = readFileSync(join(c.dir, c.object));
    // What the probe asks for appears: the text differs, so does the object.
    write(join(c.dir, "a/opt.h"), "\n");
    expect(await explain()).toMatch(/^miss: /);
    const changed = await build(c);
    expect(changed.stats.misses).toBe(second.stats.misses + 1);
    await expectLikePlain(c);
    expect(readFileSync(join(c.dir, c.object)).equals(old), "the new header changes the object").toBe(false);
    const again = await build(c);
    expect(again.stats.misses).toBe(changed.stats.misses);
    expect(again.stats.hitsPreprocessor).toBe(changed.stats.hitsPreprocessor + 1);
    await expectLikePlain(c);
  }, 120_000);

  it("a build writing its objects into the source directory still gets direct hits", async () => {
    const c = cases["objects-in-source-dir"]!;
    const argv = (i: number) => ["gcc", "-Iinc", "-c", `src/f${i}.c`, "-o", `src/f${i}.o`];
    const buildAll = async () => {
      let hits = 0;
      let byClient = 0;
      for (let i = 0; i < 6; i++) {
        const r = await build({ ...c, argv: argv(i), object: `src/f${i}.o` });
        hits += r.hitsDirect;
        byClient += r.byClient ? 1 : 0;
      }
      return { hits, byClient };
    };
    const before = indexEntries();
    await buildAll();
    const second = await buildAll();
    expect(second.hits).toBe(6);
    // Once the daemon has indexed them, the client answers them too, although each writes into src/.
    const added = () => [...indexEntries().keys()].filter((n) => !before.has(n) && entryOf(n, c.dir)).length;
    for (let i = 0; i < 1500 && added() < 6; i++) await sleep(20);
    expect(added()).toBe(6);
    const third = await buildAll();
    expect(third.hits).toBe(6);
    expect(third.byClient).toBe(6);
    for (let i = 0; i < 6; i++) await expectLikePlain({ ...c, argv: argv(i), object: `src/f${i}.o` });
    // The guard on src/ still works after all those checks: a common.h there now shadows inc/'s.
    write(join(c.dir, "src/common.h"), "#define BASE 70\n");
    const changed = await buildAll();
    expect(changed.byClient).toBe(0);
    for (let i = 0; i < 6; i++) await expectLikePlain({ ...c, argv: argv(i), object: `src/f${i}.o` });
  }, 300_000);
});
