// Per-header facts kept by one daemon across misses (a header's include
// directives, where its names resolve, the absent paths that implies): a
// header edited, a header created earlier on the include path or beside its
// includer, and a header removed between two misses must never let a stale
// fact through. Every call here is compared with a plain compile of the
// current files, object and dependency file byte for byte.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox } from "../support/reprise-env.js";

/** Files and directories changed this recently are not vouched for by their stat (RACY_WINDOW_MS), plus a margin. */
const RACY_WAIT_MS = 2300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sb: RepriseSandbox;
let dir: string;

/** Writes `rel` and waits out the racy window, so that the next store vouches for what it sees (the memo is used). */
async function write(rel: string, content: string): Promise<void> {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), content);
  await sleep(RACY_WAIT_MS);
}

async function remove(rel: string): Promise<void> {
  rmSync(join(dir, rel));
  await sleep(RACY_WAIT_MS);
}

const argv = (n: number, out = `s${n}`) => ["gcc", "-Ia", "-Ib", "-Ic", "-MMD", "-MF", `${out}.d`, "-MT", `s${n}.o`, "-c", `src/s${n}.c`, "-o", `${out}.o`];

function hits(s: Awaited<ReturnType<RepriseSandbox["stats"]>>): number {
  return s.hitsDirect + s.hitsPreprocessor + s.hitsByClient;
}

async function compile(n: number): Promise<{ hit: boolean; object: Buffer; dep: Buffer }> {
  const before = await sb.stats();
  const r = await sb.run(argv(n), dir);
  expect(r.exitCode, Buffer.from(r.stderr as Uint8Array).toString()).toBe(0);
  const hit = hits(await sb.stats()) > hits(before);
  return { hit, object: readFileSync(join(dir, `s${n}.o`)), dep: readFileSync(join(dir, `s${n}.d`)) };
}

async function plainCompile(n: number): Promise<{ object: Buffer; dep: Buffer }> {
  const args = argv(n, `s${n}.plain`);
  const r = await plain(args[0]!, args.slice(1), dir);
  expect(r.exitCode).toBe(0);
  const got = { object: readFileSync(join(dir, `s${n}.plain.o`)), dep: readFileSync(join(dir, `s${n}.plain.d`)) };
  rmSync(join(dir, `s${n}.plain.o`));
  rmSync(join(dir, `s${n}.plain.d`));
  return got;
}

/** A call, compared with a plain compile of the files as they are now; `hit`: whether it must hit or miss. */
async function expectLikePlain(n: number, hit: boolean, why: string): Promise<Buffer> {
  const got = await compile(n);
  expect(got.hit, `${why}\n${sb.daemonLogTail(20)}`).toBe(hit);
  const want = await plainCompile(n);
  expect(got.object.equals(want.object), `s${n}.o differs from a plain compile of the current headers (${why})`).toBe(true);
  expect(got.dep.toString(), `s${n}.d differs from a plain compile's (${why})`).toBe(want.dep.toString());
  return got.object;
}

describe("per-header facts kept across misses", () => {
  beforeAll(async () => {
    sb = new RepriseSandbox({ REPRISE_LOG: "debug" }, "native");
    dir = join(sb.root, "w");
    mkdirSync(join(dir, "a"), { recursive: true });
    // sub/h.h is reached through -Ib; x.h lies in c/, the last directory searched.
    mkdirSync(join(dir, "c"), { recursive: true });
    mkdirSync(join(dir, "b/sub"), { recursive: true });
    writeFileSync(join(dir, "c/x.h"), "#define X 5\n");
    writeFileSync(join(dir, "b/sub/h.h"), "#define V 1\n");
    for (let n = 1; n <= 9; n++) {
      mkdirSync(join(dir, "src"), { recursive: true });
      writeFileSync(join(dir, `src/s${n}.c`), `#include <sub/h.h>\n#ifndef X\n#define X 0\n#endif\nint s${n} = V * 100 + X + ${n};\n`);
    }
    await sleep(RACY_WAIT_MS);
  }, 30_000);

  afterAll(async () => {
    await sb?.dispose();
  });

  it("a header edited to include a new name beside it: the name created there later is not missed", async () => {
    await expectLikePlain(1, false, "the first call misses");
    await expectLikePlain(2, false, "another source reading the same header misses");
    // Edited: the header now includes "x.h", looked for beside it (b/sub/) first, found in c/.
    await write("b/sub/h.h", '#include "x.h"\n#define V 2\n');
    await expectLikePlain(2, false, "the header changed: no hit");
    await expectLikePlain(3, false, "a new source reading the edited header misses");
    await expectLikePlain(3, true, "the unchanged call hits");
    // x.h created beside the edited header: a guard from its new directive must catch it.
    await write("b/sub/x.h", "#define X 7\n");
    await expectLikePlain(3, false, "x.h beside the header now shadows c/x.h: no hit");
    await expectLikePlain(4, false, "a new source reading the header beside it misses");
  }, 180_000);

  it("a header created earlier on the include path, then removed, between misses of one daemon", async () => {
    await expectLikePlain(5, false, "a new source misses");
    await expectLikePlain(5, true, "the unchanged call hits");
    // sub/h.h in a/, searched before b/.
    await write("a/sub/h.h", "#define V 3\n");
    await expectLikePlain(5, false, "a/sub/h.h now shadows b/sub/h.h: no hit");
    await expectLikePlain(6, false, "a new source reading a/sub/h.h misses");
    await expectLikePlain(6, true, "the unchanged call hits");
    // Removed again: b/sub/h.h (and the x.h beside it) are read once more.
    await remove("a/sub/h.h");
    await expectLikePlain(6, false, "a/sub/h.h is gone: no hit");
    await expectLikePlain(7, false, "a new source misses");
    await expectLikePlain(7, true, "the unchanged call hits");
    // x.h removed from beside the header: c/x.h is found again.
    await remove("b/sub/x.h");
    await expectLikePlain(7, false, "b/sub/x.h is gone: no hit");
    await expectLikePlain(8, false, "a new source misses");
    // The header edited back to include nothing: a later x.h beside it changes nothing, a later a/sub/h.h does.
    await write("b/sub/h.h", "#define V 4\n");
    await expectLikePlain(8, false, "the header changed: no hit");
    await expectLikePlain(9, false, "a new source misses");
    await write("a/sub/h.h", "#define V 5\n");
    await expectLikePlain(9, false, "a/sub/h.h appeared again: no hit");
  }, 240_000);
});
