import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

// Entries whose largest output is 1 MiB or more: that output is copied into the cache by the kernel (entry format 4).
let sb: RepriseSandbox;
let w: string;

/** Every result blob of the sandbox's cache, by path. */
function resultBlobs(): string[] {
  const root = join(sb.cacheDir, "results");
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((shard) => /^[0-9a-f]{2}$/.test(shard))
    .flatMap((shard) => readdirSync(join(root, shard)).map((name) => join(root, shard, name)));
}

function formatFourBlobs(): string[] {
  return resultBlobs().filter((p) => readFileSync(p).subarray(-4).toString("latin1") === "RPRt");
}

beforeAll(() => {
  sb = new RepriseSandbox();
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
    const before = new Set(formatFourBlobs());
    expect((await sb.run(argv, w)).exitCode).toBe(0);
    // The entry is finished just after the answer (its CRC read back from the copy).
    let blob: string | undefined;
    for (let i = 0; i < 100 && !blob; i++) {
      blob = formatFourBlobs().find((f) => !before.has(f));
      if (!blob) await new Promise((r) => setTimeout(r, 100));
    }
    expect(blob, "the miss stored a format-4 entry").toBeDefined();
    const good = readFileSync(blob!);
    const hitWith = async (stored: Buffer) => {
      writeFileSync(blob!, stored);
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
