import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hashBytes } from "../../src/hashing/key-hasher.js";
import { ToolchainStore, relativeLinkTarget } from "../../src/toolchain/toolchain-store.js";
import { rawArchive, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

/** A small valid archive whose content (and so id) depends on `tag`, unpacking to about `size` bytes. */
async function archive(tag: string, size = 1000) {
  const data = Buffer.from(tag.padEnd(size, "."));
  const bytes = await rawArchive([
    { header: { name: "usr", type: "directory" } },
    { header: { name: "usr/bin", type: "directory" } },
    { header: { name: "usr/bin/cc", type: "file", size: data.length, mode: 0o755 }, data },
  ]);
  return { bytes, id: hashBytes(bytes) };
}

describe("the toolchain store", () => {
  it("unpacks once when two jobs want the same toolchain at once", async () => {
    const { bytes, id } = await archive("one");
    const store = new ToolchainStore({ dir: tempDir() });
    let reads = 0;
    const source = async () => {
      reads++;
      await new Promise((r) => setTimeout(r, 20));
      return bytes;
    };
    const [a, b] = await Promise.all([store.acquire(id, source), store.acquire(id, source)]);
    expect(a.root).toBe(b.root);
    expect(reads).toBe(1);
    expect(readFileSync(join(a.root, "usr/bin/cc"), "utf8")).toMatch(/^one/);
    a.release();
    b.release();
    // Already there: the source is not asked again.
    await store.ensure(id, source);
    expect(reads).toBe(1);
  });

  it("is safe with two processes (two stores on one directory) unpacking the same toolchain", async () => {
    const { bytes, id } = await archive("two");
    const dir = tempDir();
    const roots = await Promise.all([new ToolchainStore({ dir }).ensure(id, bytes), new ToolchainStore({ dir }).ensure(id, bytes)]);
    expect(roots[0]).toBe(roots[1]);
    expect(readFileSync(join(roots[0]!, "usr/bin/cc"), "utf8")).toMatch(/^two/);
    expect(readdirSync(join(dir, ".tmp"))).toEqual([]);
    expect(readdirSync(dir).filter((n) => !n.startsWith("."))).toEqual([id]);
  });

  it("takes the archive from a file", async () => {
    const { bytes, id } = await archive("file");
    const dir = tempDir();
    writeFileSync(join(dir, "a.tar.gz"), bytes);
    const root = await new ToolchainStore({ dir: join(dir, "store") }).ensure(id, join(dir, "a.tar.gz"));
    expect(existsSync(join(root, "usr/bin/cc"))).toBe(true);
  });

  it("evicts the least recently used toolchains past its size limit, never a leased one", async () => {
    const store = new ToolchainStore({ dir: tempDir(), maxSizeBytes: 2500, evictionGraceMs: 0 });
    const a = await archive("a");
    const b = await archive("b");
    const c = await archive("c");
    const d = await archive("d");
    const leaseA = await store.acquire(a.id, a.bytes);
    await new Promise((r) => setTimeout(r, 15));
    await store.ensure(b.id, b.bytes);
    await new Promise((r) => setTimeout(r, 15));
    await store.ensure(c.id, c.bytes);
    // 3000 bytes > 2500: the oldest not leased (b) goes, a stays leased.
    expect(store.has(a.id)).toBe(true);
    expect(store.has(b.id)).toBe(false);
    expect(store.has(c.id)).toBe(true);
    leaseA.release();
    await new Promise((r) => setTimeout(r, 15));
    await store.ensure(c.id, c.bytes); // c used again: a is now the least recent
    await new Promise((r) => setTimeout(r, 15));
    await store.ensure(d.id, d.bytes);
    expect(store.list().map((t) => t.id).sort()).toEqual([c.id, d.id].sort());
  });

  it("keeps recently used toolchains within the grace period even past the limit", async () => {
    const store = new ToolchainStore({ dir: tempDir(), maxSizeBytes: 1500, evictionGraceMs: 60_000 });
    const a = await archive("ga");
    const b = await archive("gb");
    await store.ensure(a.id, a.bytes);
    await store.ensure(b.id, b.bytes);
    expect(store.has(a.id) && store.has(b.id)).toBe(true);
  });

  it("reads a toolchain's metadata once, and forgets it when another process removes the toolchain", async () => {
    const { bytes, id } = await archive("meta");
    const dir = tempDir();
    const store = new ToolchainStore({ dir });
    await store.ensure(id, bytes);
    const first = store.list();
    expect(first.map((t) => t.id)).toEqual([id]);
    // Rewritten behind the store's back (never done to a real store): a listing or an acquire that read it again would see it.
    const metaPath = join(dir, id, "meta.json");
    const meta = JSON.parse(readFileSync(metaPath, "utf8"));
    writeFileSync(metaPath, JSON.stringify({ ...meta, unpackedBytes: 1 }));
    expect(store.list()[0]!.unpackedBytes).toBe(first[0]!.unpackedBytes);
    expect((await store.acquire(id, bytes)).manifest).toEqual(meta.manifest);
    // Removed by another process's store: not listed, and unpacked again when wanted.
    await new ToolchainStore({ dir }).remove(id);
    expect(store.list()).toEqual([]);
    expect(store.manifest(id)).toBeUndefined();
    let reads = 0;
    await store.ensure(id, async () => {
      reads++;
      return bytes;
    });
    expect(reads).toBe(1);
    expect(store.list().map((t) => t.unpackedBytes)).toEqual([first[0]!.unpackedBytes]);
  });

  it("refuses ids that are not content ids", async () => {
    const store = new ToolchainStore({ dir: tempDir() });
    await expect(store.ensure("../../etc", Buffer.alloc(0))).rejects.toThrow(/not a toolchain id/);
  });
});

describe("absolute link targets made relative", () => {
  it.each([
    ["usr/lib64/ld.so", "/lib/x/ld.so", "../../lib/x/ld.so"],
    ["lib64", "/usr/lib64", "usr/lib64"],
    ["root", "/", "."],
    ["usr/bin/cc", "gcc-12", "gcc-12"],
  ])("%s -> %s becomes %s", (name, target, expected) => {
    expect(relativeLinkTarget(name, target)).toBe(expected);
  });
});

describe("modes in the store", () => {
  it("normalises the modes a crafted archive gives: no group or other write, no setuid, setgid or sticky bit", async () => {
    const data = Buffer.from("#!/bin/sh\necho hi\n");
    const bytes = await rawArchive([
      { header: { name: "usr", type: "directory", mode: 0o1777 } },
      { header: { name: "usr/bin", type: "directory", mode: 0o777 } },
      { header: { name: "usr/bin/cc", type: "file", size: data.length, mode: 0o6777 }, data },
      { header: { name: "usr/bin/plain", type: "file", size: data.length, mode: 0o666 }, data },
      { header: { name: "usr/bin/suid-only", type: "file", size: data.length, mode: 0o4700 }, data },
    ]);
    const id = hashBytes(bytes);
    const store = new ToolchainStore({ dir: tempDir() });
    const root = await store.ensure(id, bytes);
    const mode = (p: string) => statSync(join(root, p)).mode & 0o7777;
    expect(mode("usr")).toBe(0o755);
    expect(mode("usr/bin")).toBe(0o755);
    expect(mode("usr/bin/cc")).toBe(0o755);
    expect(mode("usr/bin/plain")).toBe(0o644);
    expect(mode("usr/bin/suid-only")).toBe(0o755);
  });
});
