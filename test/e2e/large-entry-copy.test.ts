import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

// Entries whose largest output is 1 MiB or more: that output is copied into the cache by the kernel (entry format 4).
let sb: RepriseSandbox;
let w: string;

/** Every result blob of a sandbox's cache, by path. */
function resultBlobs(box: RepriseSandbox = sb): string[] {
  const root = join(box.cacheDir, "results");
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((shard) => /^[0-9a-f]{2}$/.test(shard))
    .flatMap((shard) => readdirSync(join(root, shard)).map((name) => join(root, shard, name)));
}

function formatFourBlobs(box: RepriseSandbox = sb): string[] {
  return resultBlobs(box).filter((p) => readFileSync(p).subarray(-4).toString("latin1") === "RPRt");
}

/** The object a plain compile of `argv` writes to `output` (removed again: the next run makes it anew). */
async function plainObject(argv: string[], output: string): Promise<Buffer> {
  const ref = await plain(argv[0]!, argv.slice(1), dirname(output));
  expect(ref.exitCode).toBe(0);
  const bytes = readFileSync(output);
  rmSync(output);
  return bytes;
}

/** Runs `argv` in `cwd` through `box` and returns the format-4 entry its miss stored (finished just after the answer). */
async function storedByMiss(box: RepriseSandbox, argv: string[], cwd: string, pollMs: number): Promise<string> {
  const before = new Set(formatFourBlobs(box));
  expect((await box.run(argv, cwd)).exitCode).toBe(0);
  let blob: string | undefined;
  for (let i = 0; i < 100 && !blob; i++) {
    blob = formatFourBlobs(box).find((f) => !before.has(f));
    if (!blob) await new Promise((r) => setTimeout(r, pollMs));
  }
  expect(blob, "the miss stored a format-4 entry").toBeDefined();
  return blob!;
}

// Idle copies off: an altered entry must miss here, not be served by its copy under the preprocessed text's key.
const NO_COPIES = { REPRISE_PREPROCESSOR_FALLBACK_COPIES: "0" };

beforeAll(() => {
  sb = new RepriseSandbox(NO_COPIES);
  w = join(sb.root, "src");
  mkdirSync(w, { recursive: true });
  // About 3 MiB of initialised data: an object well over the 1 MiB threshold.
  writeFileSync(join(w, "big.c"), "unsigned char table[3 * 1024 * 1024] = {1, 2, 3};\nint get(int i) { return table[i]; }\n");
  writeFileSync(join(w, "rewritten.c"), "unsigned char rewritten[2 * 1024 * 1024] = {9};\nint r(void) { return rewritten[7]; }\n");
  writeFileSync(join(w, "torn.c"), "unsigned char torn[2 * 1024 * 1024] = {4, 5, 6};\nint t(int i) { return torn[i]; }\n");
});

afterAll(async () => {
  await sb.dispose();
});

describe("large outputs copied into the cache by the kernel", () => {
  it("a miss and a hit give the plain compile's object and dependency file, stored in format 4", async () => {
    await expectSameAsPlain(sb, w, ["gcc", "-g", "-MD", "-MF", "big.d", "-c", "big.c", "-o", "big.o"], ["big.o", "big.d"]);
    expect(statSync(join(w, "big.o")).size).toBeGreaterThan(3 * 1024 * 1024);
    expect(formatFourBlobs().length).toBe(1);
  });

  it("the build rewriting the output right after the answer does not change what is cached", async () => {
    const ref = await plain("gcc", ["-c", "rewritten.c", "-o", "rewritten.o"], w);
    expect(ref.exitCode).toBe(0);
    const expected = readFileSync(join(w, "rewritten.o"));
    rmSync(join(w, "rewritten.o"));
    const miss = await sb.run(["gcc", "-c", "rewritten.c", "-o", "rewritten.o"], w);
    expect(miss.exitCode).toBe(0);
    // In place, as a build step that strips or patches its object would.
    writeFileSync(join(w, "rewritten.o"), Buffer.alloc(expected.length, 0xee), { flag: "r+" });
    writeFileSync(join(w, "rewritten.o"), "patched", { flag: "a" });
    rmSync(join(w, "rewritten.o"));
    await sb.zeroStats();
    const hit = await sb.run(["gcc", "-c", "rewritten.c", "-o", "rewritten.o"], w);
    expect(hit.exitCode).toBe(0);
    expect(readFileSync(join(w, "rewritten.o")).equals(expected)).toBe(true);
    const s = await sb.stats();
    expect(s.hitsDirect + s.hitsPreprocessor).toBe(1);
    expect(s.misses).toBe(0);
  });

  /**
   * A hit of a fresh daemon (nothing remembered in memory) puts a format-4
   * entry's object in place by a kernel copy beside it, checked by the
   * entry's CRC before it is renamed over the output. A blob altered or torn
   * inside the object must never be restored: the call is a miss, counted as
   * a corrupt entry, and the object is the plain compile's.
   */
  it("a fresh daemon's hit copies the object in byte for byte; an altered or torn entry never reaches the output", async () => {
    const argv = ["gcc", "-c", "torn.c", "-o", "torn.o"];
    const ref = await plain(argv[0]!, argv.slice(1), w);
    expect(ref.exitCode).toBe(0);
    const expected = readFileSync(join(w, "torn.o"));
    const mode = statSync(join(w, "torn.o")).mode;
    // The entry is finished just after the answer (its CRC read back from the copy).
    const blob = await storedByMiss(sb, argv, w, 100);
    const good = readFileSync(blob);
    const hitWith = async (stored: Buffer) => {
      writeFileSync(blob, stored);
      // A new daemon: the old one remembers entries it read back and would not open the file again.
      await sb.run(["--stop-server"], sb.root);
      await sb.zeroStats();
      writeFileSync(join(w, "torn.o"), "an older object");
      const r = await sb.run(argv, w);
      expect(r.exitCode).toBe(0);
      expect(readFileSync(join(w, "torn.o")).equals(expected), "the plain compile's object").toBe(true);
      expect(statSync(join(w, "torn.o")).mode, "the plain compile's mode").toBe(mode);
      expect(readdirSync(w).filter((f) => f.includes(".reprise-")), "no copy left beside the output").toEqual([]);
      return sb.stats();
    };

    const hit = await hitWith(good);
    expect(hit.hitsDirect).toBe(1);
    expect(hit.errors).toEqual({});

    const altered = Buffer.from(good);
    altered[expected.length >> 1]! ^= 0x01;
    const afterAltered = await hitWith(altered);
    expect(afterAltered.errors["corrupt-entry"]).toBe(1);
    expect(afterAltered.misses).toBe(1);

    // Torn: 4 KiB of the object gone from the middle, the body and footer intact.
    const cut = expected.length >> 1;
    const afterTorn = await hitWith(Buffer.concat([good.subarray(0, cut), good.subarray(cut + 4096)]));
    expect(afterTorn.errors["corrupt-entry"]).toBe(1);
    expect(afterTorn.misses).toBe(1);

    // Cut short inside the object: no footer is left, so it is read whole and refused as before.
    const short = join(sb.root, "short");
    writeFileSync(short, good);
    truncateSync(short, cut);
    const afterShort = await hitWith(readFileSync(short));
    expect(afterShort.errors["corrupt-entry"]).toBe(1);
    expect(afterShort.misses).toBe(1);
  });
});

/**
 * The hit index keeps its own copy of each output for the native client. A
 * large object's entry holds it in format 4, its bytes never in the daemon:
 * the index copies them from the stored entry by the kernel, checked by the
 * entry's CRC, rather than reading the entry back (session 11); the copy is
 * named by the stored entry, not by a digest of bytes it never read.
 */
describe("a large object's hit-index entry", () => {
  let nb: RepriseSandbox;
  let nw: string;

  beforeAll(() => {
    nb = new RepriseSandbox(NO_COPIES, "native");
    nw = join(nb.root, "src");
    mkdirSync(nw, { recursive: true });
    writeFileSync(join(nw, "first.c"), "int first(void) { return 1; }\n");
    writeFileSync(join(nw, "altered.c"), "unsigned char altered[2 * 1024 * 1024] = {5, 6};\nint a(int i) { return altered[i]; }\n");
    writeFileSync(join(nw, "indexed.c"), "unsigned char indexed[2 * 1024 * 1024] = {7, 8};\nint x(int i) { return indexed[i]; }\n");
    // Settled long ago: the index vouches for a source by its stat only outside the racy window.
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(nw, "indexed.c"), old, old);
    utimesSync(join(nw, "altered.c"), old, old);
  });

  afterAll(async () => {
    await nb.dispose();
  });

  it("is the stored entry linked, not copied, and the native client's hit gives the plain compile's object", async () => {
    const argv = ["gcc", "-c", "indexed.c", "-o", "indexed.o"];
    const expected = await plainObject(argv, join(nw, "indexed.o"));
    // The call that starts the daemon goes through the Node client, whose calls are not indexed: another one first.
    expect((await nb.run(["gcc", "-c", "first.c", "-o", "first.o"], nw)).exitCode).toBe(0);
    const blob = await storedByMiss(nb, argv, nw, 20);
    const copies = join(nb.cacheDir, "hit-index");
    // The miss's entry is written once the daemon has been idle a while, with the index's copy of the object.
    const large = () => (existsSync(copies) ? readdirSync(copies) : []).filter((n) => !n.includes(".tmp-") && statSync(join(copies, n)).size > 1024 * 1024);
    for (let i = 0; i < 1500 && large().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const copied = large();
    expect(copied, "one copy, named by the stored entry").toEqual([expect.stringMatching(/^lead-[0-9a-f]+$/)]);
    const indexed = join(copies, copied[0]!);
    // A hard link to the stored entry (same inode): the object's bytes first, the rest of the entry after them; no byte copied.
    expect(statSync(indexed).ino, "the index's file is the stored entry itself").toBe(statSync(blob).ino);
    expect(readFileSync(indexed).subarray(0, expected.length).equals(expected), "its first bytes are the plain compile's object").toBe(true);
    expect(statSync(indexed).mode & 0o777).toBe(0o600);

    rmSync(join(nw, "indexed.o"));
    await nb.zeroStats();
    expect((await nb.run(argv, nw)).exitCode).toBe(0);
    expect(readFileSync(join(nw, "indexed.o")).equals(expected), "the client's hit wrote the plain compile's object").toBe(true);
    expect((await nb.stats()).hitsByClient).toBe(1);
  });

  it("is not made from a stored entry altered before the index copies it", async () => {
    const argv = ["gcc", "-c", "altered.c", "-o", "altered.o"];
    const expected = await plainObject(argv, join(nw, "altered.o"));
    // The index copies from the entry only once the daemon has been idle 2 s: it is altered before that.
    const blob = await storedByMiss(nb, argv, nw, 20);
    const stored = readFileSync(blob);
    stored[expected.length >> 1]! ^= 0x01;
    writeFileSync(blob, stored);
    const copies = join(nb.cacheDir, "hit-index");
    const count = () => readdirSync(copies).filter((n) => !n.includes(".tmp-")).length;
    const copiesBefore = count();
    // Long past the daemon's idle wait: the index has tried its copy by now.
    await new Promise((r) => setTimeout(r, 5000));
    expect(count(), "no copy made from the altered entry").toBe(copiesBefore);
    rmSync(join(nw, "altered.o"));
    await nb.zeroStats();
    expect((await nb.run(argv, nw)).exitCode).toBe(0);
    expect(readFileSync(join(nw, "altered.o")).equals(expected), "the plain compile's object").toBe(true);
    const s = await nb.stats();
    expect(s.hitsByClient).toBe(0);
    expect(s.errors["corrupt-entry"]).toBe(1);
  });

  // A fresh daemon would otherwise find an earlier one's copies at its first index write and remove them during the build.
  it("goes with --clear, also when an earlier daemon made it", async () => {
    const copies = join(nb.cacheDir, "hit-index");
    expect(readdirSync(copies).length, "copies made by the tests above").toBeGreaterThan(0);
    expect((await nb.run(["--stop-server"], nb.root)).exitCode).toBe(0);
    expect((await nb.run(["--clear"], nb.root)).exitCode).toBe(0);
    expect(existsSync(copies) ? readdirSync(copies) : []).toEqual([]);
  });
});
