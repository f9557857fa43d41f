import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeEntry, encodeManifest } from "../../src/storage/codec.js";
import { LocalDiskStorage } from "../../src/storage/local-disk-storage.js";
import { GuardedLevel } from "../../src/storage/levels/guarded-level.js";
import { TieredStorage } from "../../src/storage/levels/tiered-storage.js";
import { decodeEntry, decodeManifest } from "../../src/storage/codec.js";
import type { BlobKind, CacheStorage } from "../../src/storage/cache-storage.js";
import { silentLogger } from "../../src/util/logger.js";

const KEY = "ab".repeat(32);
const OTHER_KEY = "cd".repeat(32);
/** As the registry's check: a blob must decode as bound to the key it is stored under. */
const check = async (kind: BlobKind, key: string, data: Buffer) => {
  try {
    await (kind === "result" ? decodeEntry(data, key) : decodeManifest(data, key));
    return true;
  } catch {
    return false;
  }
};

function disk(): LocalDiskStorage {
  return new LocalDiskStorage({ kind: "local", dir: mkdtempSync(join(tmpdir(), "reprise-tier-")), maxSizeBytes: 0 });
}

function level(storage: CacheStorage, index: number, o: { readOnly?: boolean; remote?: boolean } = {}): GuardedLevel {
  return new GuardedLevel(storage, {
    index,
    readOnly: o.readOnly ?? false,
    remote: o.remote ?? false,
    timeouts: { connectMs: 200, requestMs: 200 },
    breaker: { errorThresholdPercent: 50, volumeThreshold: 2, cooldownMs: 60_000 },
    logger: silentLogger,
  });
}

async function entryBlob(text: string, key = KEY): Promise<Buffer> {
  return encodeEntry({ outputs: [{ role: "object", data: Buffer.from(text) }], stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0, compileMs: 1, createdAt: 0 }, key);
}

describe("TieredStorage over local disk levels", () => {
  it("a hit in a lower level is copied to the writable levels above it, not to read-only ones", async () => {
    const [a, b, c] = [disk(), disk(), disk()];
    const blob = await entryBlob("x");
    await c.write("result", KEY, blob);
    const tiers = new TieredStorage([level(a, 0), level(b, 1, { readOnly: true }), level(c, 2, { remote: true })], [], check, silentLogger);
    expect((await tiers.read("result", KEY))?.equals(blob)).toBe(true);
    await tiers.settle();
    expect((await a.read("result", KEY))?.equals(blob)).toBe(true);
    expect(await b.read("result", KEY)).toBeUndefined();
    const stats = tiers.levelStats();
    expect(stats.map((s) => [s.hits, s.misses, s.writeBacks])).toEqual([
      [0, 1, 1],
      [0, 1, 0],
      [1, 0, 0],
    ]);
    // Now the first level answers and the others are not asked.
    await tiers.read("result", KEY);
    expect(tiers.levelStats()[0]!.hits).toBe(1);
    expect(tiers.levelStats()[2]!.hits).toBe(1);
  });

  it("a store goes to every writable level; read-only levels are left alone", async () => {
    const [a, b, c] = [disk(), disk(), disk()];
    const tiers = new TieredStorage([level(a, 0), level(b, 1, { readOnly: true, remote: true }), level(c, 2, { remote: true })], [], check, silentLogger);
    const manifest = await encodeManifest({ entries: [] }, KEY);
    await tiers.write("manifest", KEY, manifest);
    expect(await a.read("manifest", KEY)).toBeDefined();
    await tiers.settle();
    expect(await b.read("manifest", KEY)).toBeUndefined();
    expect((await c.read("manifest", KEY))?.equals(manifest)).toBe(true);
  });

  it("a truncated or foreign blob in a lower level is a miss there and is not copied up", async () => {
    const [a, b, f, c] = [disk(), disk(), disk(), disk()];
    const good = await entryBlob("good");
    await b.write("result", KEY, good.subarray(0, good.length - 3));
    // Whole and valid, but the entry of another key: foreign here.
    await f.write("result", KEY, await entryBlob("other", OTHER_KEY));
    await c.write("result", KEY, good);
    // A removal slower than the write-back (a remote server under load) must still not remove the good copy written back.
    const removeB = b.remove.bind(b);
    b.remove = async (kind, key) => {
      await new Promise((r) => setTimeout(r, 100));
      return removeB(kind, key);
    };
    const tiers = new TieredStorage([level(a, 0), level(b, 1, { remote: true }), level(f, 2, { remote: true }), level(c, 3, { remote: true })], [], check, silentLogger);
    expect((await tiers.read("result", KEY))?.equals(good)).toBe(true);
    await tiers.settle();
    expect(tiers.levelStats()[1]!.corrupt).toBe(1);
    expect(tiers.levelStats()[2]!.corrupt).toBe(1);
    // The corrupt and foreign copies were removed from their (writable) levels, and the good one written back above them.
    expect((await b.read("result", KEY))?.equals(good)).toBe(true);
    expect((await f.read("result", KEY))?.equals(good)).toBe(true);
    expect((await a.read("result", KEY))?.equals(good)).toBe(true);
  });

  it("a failing level counts errors, opens its breaker, and reads go on to the next level", async () => {
    const a = disk();
    // A "directory" that is a file: every read and write of this level fails for real.
    const blocker = join(mkdtempSync(join(tmpdir(), "reprise-tier-")), "file");
    writeFileSync(blocker, "");
    const broken = new LocalDiskStorage({ kind: "local", dir: blocker, maxSizeBytes: 0 });
    const c = disk();
    const blob = await entryBlob("y");
    await c.write("result", KEY, blob);
    const tiers = new TieredStorage([level(a, 0), level(broken, 1, { remote: true }), level(c, 2, { remote: true })], [], check, silentLogger);
    for (let i = 0; i < 3; i++) await tiers.write("result", `${i}`.repeat(64), blob);
    await tiers.settle();
    expect(tiers.levelStats()[1]!.errors).toBeGreaterThanOrEqual(2);
    expect(tiers.levelStats()[1]!.state).toBe("open");
    expect((await tiers.read("result", KEY))?.equals(blob)).toBe(true);
  });
});

describe("TieredStorage for direct mode's manifests", () => {
  it("readLower yields each lower level's checked blob; writeAbove fills the writable levels above", async () => {
    const [a, b, c] = [disk(), disk(), disk()];
    const upper = await encodeManifest({ entries: [{ files: [], resultKey: "1".repeat(64) }] }, KEY);
    const lower = await encodeManifest({ entries: [{ files: [], resultKey: "2".repeat(64) }] }, KEY);
    await a.write("manifest", KEY, upper);
    await b.write("manifest", KEY, Buffer.from("RPRm foreign"));
    await c.write("manifest", KEY, lower);
    const tiers = new TieredStorage([level(a, 0), level(b, 1, { remote: true }), level(c, 2, { remote: true })], [], check, silentLogger);
    const seen: number[] = [];
    for await (const { level: at, data } of tiers.readLower("manifest", KEY)) {
      seen.push(at);
      expect(data.equals(lower)).toBe(true);
      tiers.writeAbove(at, "manifest", KEY, data);
    }
    expect(seen).toEqual([2]);
    await tiers.settle();
    expect(tiers.levelStats()[1]!.corrupt).toBe(1);
    expect((await a.read("manifest", KEY))?.equals(lower)).toBe(true);
    expect((await b.read("manifest", KEY))?.equals(lower)).toBe(true);
  });
});

describe("TieredStorage.beginCopy (a miss's large output copied by the kernel)", () => {
  const source = () => {
    const file = join(mkdtempSync(join(tmpdir(), "reprise-tier-src-")), "lib.rlib");
    writeFileSync(file, Buffer.alloc(64 * 1024, 7));
    return file;
  };

  it("is offered when the local disk is the only writable level, and counts the store in its stats", async () => {
    const a = disk();
    const tiers = new TieredStorage([level(a, 0), level(disk(), 1, { readOnly: true, remote: true })], [], check, silentLogger);
    const staged = tiers.beginCopy("result", source())!;
    expect(staged.size).toBe(64 * 1024);
    await staged.finish(KEY, Buffer.from("tail"));
    expect((await a.read("result", KEY))!.length).toBe(64 * 1024 + 4);
    expect(tiers.levelStats()[0]!.writes).toBe(1);
    expect(tiers.levelStats()[0]!.bytesWritten).toBe(64 * 1024 + 4);
  });

  it("is not offered when another level must get the blob too, or the first level is read-only", () => {
    expect(new TieredStorage([level(disk(), 0), level(disk(), 1, { remote: true })], [], check, silentLogger).beginCopy("result", source())).toBeUndefined();
    expect(new TieredStorage([level(disk(), 0), level(disk(), 1)], [], check, silentLogger).beginCopy("result", source())).toBeUndefined();
    expect(new TieredStorage([level(disk(), 0, { readOnly: true }), level(disk(), 1)], [], check, silentLogger).beginCopy("result", source())).toBeUndefined();
  });
});
