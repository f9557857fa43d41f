// Absent-path guards remembered across misses (engine/absent-memo.ts): misses
// whose compiles read the same headers share what earlier stores found about
// where else those headers' names could have been found. A header appearing in
// an earlier -I directory between two such misses, or after a hit, must still
// make the next call miss and produce what a plain compile of the new state
// produces, byte for byte.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox } from "../support/reprise-env.js";

/** Files and directories changed this recently are not vouched for by their stat (RACY_WINDOW_MS), plus a margin. */
const RACY_WAIT_MS = 2300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sb: RepriseSandbox;
let dir: string;

function write(rel: string, content: string): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), content);
}

const argv = (n: number) => ["gcc", "-Ia", "-Ib", "-c", `src/s${n}.c`, "-o", `s${n}.o`];

async function compile(n: number): Promise<{ hit: boolean; object: Buffer }> {
  const before = await sb.stats();
  const r = await sb.run(argv(n), dir);
  expect(r.exitCode, Buffer.from(r.stderr as Uint8Array).toString()).toBe(0);
  const after = await sb.stats();
  const hit = after.hitsDirect + after.hitsPreprocessor + after.hitsByClient > before.hitsDirect + before.hitsPreprocessor + before.hitsByClient;
  return { hit, object: readFileSync(join(dir, `s${n}.o`)) };
}

async function plainObject(n: number): Promise<Buffer> {
  const args = argv(n).map((a) => (a === `s${n}.o` ? `s${n}.plain.o` : a));
  const r = await plain(args[0]!, args.slice(1), dir);
  expect(r.exitCode).toBe(0);
  const out = readFileSync(join(dir, `s${n}.plain.o`));
  rmSync(join(dir, `s${n}.plain.o`));
  return out;
}

async function expectMissLikePlain(n: number, why: string): Promise<Buffer> {
  const got = await compile(n);
  expect(got.hit, why).toBe(false);
  expect(got.object.equals(await plainObject(n)), `s${n}.o differs from a plain compile of the current headers`).toBe(true);
  return got.object;
}

/** How many stores took the headers' share of their guards from an earlier store (the daemon's debug log). */
function adoptedStores(): number {
  return sb.daemonLogTail(100_000, (l) => l.includes("absent-path guards (the headers' share as an earlier store found it)")).split("\n").filter(Boolean).length;
}

/** Waits (bounded) until `n` stores adopted an earlier store's findings: a miss's entry is stored after its answer. */
async function adoptedAtLeast(n: number): Promise<void> {
  for (let i = 0; i < 600 && adoptedStores() < n; i++) await sleep(50);
  expect(adoptedStores(), `the second miss reads the same headers: its store adopts the first's findings\n${sb.daemonLogTail(30)}`).toBeGreaterThanOrEqual(n);
}

describe("absent-path guards remembered across misses", () => {
  beforeAll(async () => {
    sb = new RepriseSandbox({ REPRISE_LOG: "debug" }, "native");
    dir = join(sb.root, "w");
    write("b/h.h", "#include <stddef.h>\n#define V 1\n");
    write("a/keep", "");
    for (let n = 1; n <= 5; n++) write(`src/s${n}.c`, `#include <h.h>\nint s${n} = V + ${n};\nsize_t z${n};\n`);
    await sleep(RACY_WAIT_MS);
  }, 30_000);

  afterAll(async () => {
    await sb?.dispose();
  });

  it("a header appearing in an earlier -I directory between misses sharing the memo, and after a hit", async () => {
    await expectMissLikePlain(1, "the first call misses");
    const old = await expectMissLikePlain(2, "another source misses");
    await adoptedAtLeast(1);
    const hit = await compile(2);
    expect(hit.hit, "the unchanged call hits").toBe(true);
    expect(hit.object.equals(old)).toBe(true);

    // A header of the same name in the earlier directory a/: s2 now compiles differently.
    write("a/h.h", "#include <stddef.h>\n#define V 20\n");
    const changed = await expectMissLikePlain(2, "a header in an earlier -I directory changes the compile: no hit");
    expect(changed.equals(old), "the new header changes the object").toBe(false);
    await expectMissLikePlain(3, "a new source reading the new header misses");

    // Gone again: a source reading b/h.h again stores under a/'s new identity (the remembered one no longer holds)...
    rmSync(join(dir, "a/h.h"));
    await expectMissLikePlain(4, "a new source misses");
    // ...so that the header appearing once more is seen by the next call, and by a hit's check.
    expect((await compile(4)).hit, "the unchanged call hits").toBe(true);
    write("a/h.h", "#include <stddef.h>\n#define V 30\n");
    await expectMissLikePlain(4, "the header appeared again after the hit: no hit");
    await expectMissLikePlain(5, "a new source reading the new header misses");
  }, 180_000);
});
