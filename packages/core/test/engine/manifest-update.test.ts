// recordInManifest after a lookup: the manifest this daemon just read (or found absent) is updated without
// reading and checking it again; a manifest it does not know is still read, so no stored entry is dropped.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { directResultKey, findInManifest, ManifestMemo, readManifest, recordInManifest } from "../../src/engine/direct-mode.js";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import type { BlobKind, CacheStorage } from "../../src/storage/cache-storage.js";
import { LocalDiskStorage } from "../../src/storage/local-disk-storage.js";
import type { ManifestEntry } from "../../src/storage/codec.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-manifest-update-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real local storage whose manifest reads are counted. */
function countingStorage(name: string): { storage: CacheStorage; manifestReads: () => number } {
  const disk = new LocalDiskStorage({ kind: "local", dir: join(dir, name), maxSizeBytes: 1 << 30 });
  let reads = 0;
  const storage: CacheStorage = {
    kind: disk.kind,
    location: disk.location,
    read: (kind: BlobKind, key: string) => {
      if (kind === "manifest") reads++;
      return disk.read(kind, key);
    },
    write: (kind, key, data) => disk.write(kind, key, data),
    remove: (kind, key) => disk.remove(kind, key),
    usage: () => disk.usage(),
    clear: () => disk.clear(),
    close: () => disk.close(),
  };
  return { storage, manifestReads: () => reads };
}

async function entryFor(manifestKey: string, header: string, content: string): Promise<ManifestEntry> {
  writeFileSync(header, content);
  const d = (await new FileHashCache().digest(header))!;
  const files = [{ path: header, hash: d.hash, size: d.size }];
  return { files, resultKey: directResultKey(manifestKey, files, undefined) };
}

describe("recordInManifest", () => {
  it("adds a cold miss's entry without reading the manifest its lookup found absent, then keeps every entry", async () => {
    const { storage, manifestReads } = countingStorage("cold");
    const memo = new ManifestMemo();
    const key = "a".repeat(64);
    expect(await findInManifest(storage, key, memo, new FileHashCache(), {})).toBeUndefined();
    expect(manifestReads()).toBe(1);

    const first = await entryFor(key, join(dir, "cold-1.h"), "int one;\n");
    await recordInManifest(storage, key, first, memo);
    expect(manifestReads()).toBe(1);
    const second = await entryFor(key, join(dir, "cold-2.h"), "int two;\n");
    await recordInManifest(storage, key, second, memo);
    expect(manifestReads()).toBe(1);

    const stored = await readManifest(storage, key);
    expect(stored?.entries.map((e) => e.resultKey)).toEqual([second.resultKey, first.resultKey]);
  });

  it("reads a manifest it does not know before adding to it (one another daemon wrote)", async () => {
    const { storage, manifestReads } = countingStorage("shared");
    const key = "b".repeat(64);
    const theirs = await entryFor(key, join(dir, "shared-1.h"), "int theirs;\n");
    await recordInManifest(storage, key, theirs, new ManifestMemo());
    const before = manifestReads();

    const ours = await entryFor(key, join(dir, "shared-2.h"), "int ours;\n");
    await recordInManifest(storage, key, ours, new ManifestMemo());
    expect(manifestReads()).toBe(before + 1);
    expect((await readManifest(storage, key))?.entries.map((e) => e.resultKey)).toEqual([ours.resultKey, theirs.resultKey]);
  });

  it("updates the manifest a lookup read and matched nothing in, without reading it again", async () => {
    const { storage, manifestReads } = countingStorage("warm");
    const key = "c".repeat(64);
    const old = await entryFor(key, join(dir, "warm.h"), "int old;\n");
    await recordInManifest(storage, key, old, new ManifestMemo());
    const memo = new ManifestMemo();
    const changed = await entryFor(key, join(dir, "warm.h"), "int changed;\n");
    expect(await findInManifest(storage, key, memo, new FileHashCache(), {})).toBeUndefined();
    const reads = manifestReads();
    await recordInManifest(storage, key, changed, memo);
    expect(manifestReads()).toBe(reads);
    expect((await readManifest(storage, key))?.entries.map((e) => e.resultKey)).toEqual([changed.resultKey, old.resultKey]);
  });

  it("does not look at the stored manifest again when it is the very blob the remembered copy is, and sees one another daemon rewrote", async () => {
    const { storage, manifestReads } = countingStorage("same-bytes");
    const memo = new ManifestMemo();
    const key = "d".repeat(64);
    const header = join(dir, "same-bytes.h");
    const shared = join(dir, "same-bytes-shared.h");
    writeFileSync(shared, "int shared;\n");
    const entry = async (content: string): Promise<ManifestEntry> => {
      writeFileSync(header, content);
      const hashes = new FileHashCache();
      const files = [header, shared].map((path) => ({ path, hash: "", size: 0 }));
      for (const f of files) Object.assign(f, await hashes.digest(f.path).then((d) => ({ hash: d!.hash, size: d!.size })));
      return { files, resultKey: directResultKey(key, files, undefined) };
    };
    await recordInManifest(storage, key, await entry("int one;\n"), memo);
    await recordInManifest(storage, key, await entry("int two;\n"), memo);
    writeFileSync(header, "int three;\n");

    // A hash cache that counts the files it is asked about (each a stat at least).
    let asked = 0;
    const hashes = new FileHashCache();
    const known = hashes.known.bind(hashes);
    hashes.known = (path, tokens) => {
      asked++;
      return known(path, tokens);
    };
    const reads = manifestReads();
    expect(await findInManifest(storage, key, memo, hashes, {})).toBeUndefined();
    expect(manifestReads()).toBe(reads + 1);
    // Two entries, the remembered copy and the stored one: the changed header is looked at once in all.
    expect(asked).toBe(1);

    // Another daemon adds an entry for the header as it is now: the stored bytes differ, so they are decoded and matched.
    const now = await entry("int three;\n");
    await recordInManifest(storage, key, now, new ManifestMemo());
    expect((await findInManifest(storage, key, memo, hashes, {}))?.resultKey).toBe(now.resultKey);
  });
});
