import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import { hashBytes } from "../../src/hashing/key-hasher.js";
import { PERSISTED_MIN_BYTES, PersistedDigests } from "../../src/hashing/persisted-digests.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-persisted-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const later = () => Date.now() + 10_000;

/** A daemon's file hashing over the cache root `root`: a fresh one per "daemon start". */
function daemon(root: string) {
  const store = new PersistedDigests(root);
  const hashes = new FileHashCache(1000, later);
  hashes.persistLargeFiles(store);
  return { store, hashes };
}

function bigFile(name: string, fill: number): { path: string; data: Buffer } {
  const path = join(dir, name);
  const data = Buffer.alloc(PERSISTED_MIN_BYTES + 17, fill);
  writeFileSync(path, data);
  return { path, data };
}

describe("large files' hashes across daemon restarts", () => {
  it("a fresh daemon takes a toolchain file's hash from the cache directory, without reading it", async () => {
    const root = join(dir, "cache-a");
    const lib = bigFile("librustc_driver.so", 7);
    const first = daemon(root);
    expect((await first.hashes.digest(lib.path))?.hash).toBe(hashBytes(lib.data));
    expect(first.hashes.misses).toBe(1);
    first.store.flush();
    expect(readFileSync(join(root, "file-digests.json"), "utf8")).toContain(lib.path);

    const second = daemon(root);
    expect((await second.hashes.digest(lib.path))?.hash).toBe(hashBytes(lib.data));
    expect(second.hashes.misses).toBe(0);
  });

  it("a changed file (same size, new mtime) is read again; small files are not kept", async () => {
    const root = join(dir, "cache-b");
    const lib = bigFile("libstd.rlib", 1);
    const small = join(dir, "small.h");
    writeFileSync(small, "int x;\n");
    const first = daemon(root);
    await first.hashes.digest(lib.path);
    await first.hashes.digest(small);
    first.store.flush();
    expect(readFileSync(join(root, "file-digests.json"), "utf8")).not.toContain("small.h");

    const changed = Buffer.alloc(lib.data.length, 2);
    writeFileSync(lib.path, changed);
    utimesSync(lib.path, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const second = daemon(root);
    expect((await second.hashes.digest(lib.path))?.hash).toBe(hashBytes(changed));
    expect(second.hashes.misses).toBe(1);
  });

  it("a damaged, foreign or linked digest file is ignored: the file is hashed again, never taken on trust", async () => {
    const root = join(dir, "cache-c");
    const lib = bigFile("rustc-bin", 3);
    const first = daemon(root);
    await first.hashes.digest(lib.path);
    first.store.flush();
    const file = join(root, "file-digests.json");
    const good = readFileSync(file, "utf8");

    // Someone rewrote the hash (without the checksum that goes with it).
    writeFileSync(file, good.replace(/"hash":"[0-9a-f]+"/, `"hash":"${"0".repeat(32)}"`));
    const tampered = daemon(root);
    expect((await tampered.hashes.digest(lib.path))?.hash).toBe(hashBytes(lib.data));
    expect(tampered.hashes.misses).toBe(1);

    // A link in place of the file is not followed.
    const elsewhere = join(dir, "elsewhere.json");
    writeFileSync(elsewhere, good);
    rmSync(file);
    symlinkSync(elsewhere, file);
    const linked = daemon(root);
    await linked.hashes.digest(lib.path);
    expect(linked.hashes.misses).toBe(1);

    // A cache root open to others is not used at all.
    rmSync(file);
    writeFileSync(file, good);
    chmodSync(root, 0o777);
    const open = daemon(root);
    await open.hashes.digest(lib.path);
    expect(open.hashes.misses).toBe(1);
    chmodSync(root, 0o700);
  });
});
