import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hashBytes } from "../../src/hashing/key-hasher.js";
import { InputStore } from "../../src/hermetic/input-store.js";

const tmp = mkdtempSync(join(tmpdir(), "reprise-input-store-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("InputStore.putFile", () => {
  it("stores blobs read-only under their hash, leaves no temporary file, and makes a shard folder removed by hand again", async () => {
    const dir = join(tmp, "store");
    const store = new InputStore(dir);
    const file = (name: string, text: string) => {
      const path = join(tmp, name);
      writeFileSync(path, text);
      return { path, hash: hashBytes(readFileSync(path)) };
    };
    const first = file("a.h", "#define A 1\n");
    expect(await store.putFile(first.path, first.hash)).toBe(true);
    const blob = store.blobPath(first.hash);
    expect(readFileSync(blob, "utf8")).toBe("#define A 1\n");
    expect(statSync(blob).mode & 0o777).toBe(0o444);
    // Another blob in the same shard folder, after the store was emptied by hand while this process runs: the folder is made again.
    let i = 0;
    let second = file("b.h", `#define B ${i}\n`);
    while (second.hash.slice(0, 2) !== first.hash.slice(0, 2)) second = file("b.h", `#define B ${++i}\n`);
    rmSync(dir, { recursive: true, force: true });
    expect(await store.putFile(second.path, second.hash)).toBe(true);
    expect(readFileSync(store.blobPath(second.hash)).equals(readFileSync(second.path))).toBe(true);
    expect(readdirSync(dir).flatMap((shard) => readdirSync(join(dir, shard)))).toEqual([second.hash]);
    // A file that changed since it was hashed is refused, and nothing is stored for it.
    writeFileSync(second.path, "changed\n");
    const other = new InputStore(join(tmp, "other"));
    expect(await other.putFile(second.path, second.hash)).toBe(false);
    expect(other.has(second.hash)).toBe(false);
  });

  it("stores the bytes its caller hashed as they are, without reading the file again", async () => {
    const store = new InputStore(join(tmp, "handed"));
    const path = join(tmp, "handed.h");
    writeFileSync(path, "#define H 1\n");
    const data = readFileSync(path);
    const hash = hashBytes(data);
    // Gone since it was read and hashed: only the bytes handed over can be stored.
    unlinkSync(path);
    expect(await store.putFile(path, hash, data)).toBe(true);
    expect(readFileSync(store.blobPath(hash)).equals(data)).toBe(true);
    expect(statSync(store.blobPath(hash)).mode & 0o777).toBe(0o444);
  });
});

describe("InputStore.blobPath", () => {
  it("names what join names, whatever form the store's directory is given in", () => {
    const hash = "ab".padEnd(64, "0");
    for (const dir of ["/srv/blobs", "/srv/blobs/", "/srv//blobs/./", "blobs", "./blobs/", "", "/"]) {
      expect(new InputStore(dir).blobPath(hash)).toBe(join(dir, "ab", hash));
    }
  });
});
