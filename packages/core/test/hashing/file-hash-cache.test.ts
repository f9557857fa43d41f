import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import { hashBytes } from "../../src/hashing/key-hasher.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-hash-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("FileHashCache", () => {
  it("rehashes a file younger than two seconds on every call, and remembers an older one (by the wall clock alone: racy-window.test.ts has the finer rule)", async () => {
    const f = join(dir, "young.h");
    writeFileSync(f, "int a;\n");
    const cache = new FileHashCache(1000, Date.now);
    await cache.digest(f);
    await cache.digest(f);
    expect(cache.misses).toBe(2);
    const later = new FileHashCache(1000, () => Date.now() + 10_000);
    await later.digest(f);
    await later.digest(f);
    expect(later.misses).toBe(1);
    expect(later.known(f)).toMatchObject({ hash: hashBytes(Buffer.from("int a;\n")) });
  });

  it("hashes small files (read in this thread) and larger ones (through the thread pool) to the hash of their bytes, and a FIFO to nothing", async () => {
    const small = join(dir, "small.h");
    const large = join(dir, "large.bin");
    const smallData = Buffer.from("#define SMALL 1\n");
    const largeData = Buffer.alloc(1024 * 1024 + 1, 7);
    writeFileSync(small, smallData);
    writeFileSync(large, largeData);
    const cache = new FileHashCache();
    expect(await cache.digest(small, ["SMALL"])).toEqual({ hash: hashBytes(smallData), size: smallData.length, tokens: ["SMALL"] });
    expect(await cache.digest(large)).toMatchObject({ hash: hashBytes(largeData), size: largeData.length });
    if (process.platform !== "win32") {
      const fifo = join(dir, "fifo.h");
      execFileSync("mkfifo", [fifo]);
      expect(await cache.digest(fifo)).toBeUndefined();
    }
  });

  it("takes the digest of a file Reprise just wrote from the bytes it wrote, once, without reading the file", async () => {
    const f = join(dir, "libdep.rlib");
    const data = Buffer.from("restored library bytes");
    writeFileSync(f, data);
    const cache = new FileHashCache();
    cache.rememberWritten(f, data);
    expect((await cache.digest(f))?.hash).toBe(hashBytes(data));
    expect((await cache.digest(f))?.hash).toBe(hashBytes(data));
    expect(cache.known(f)).toMatchObject({ hash: hashBytes(data) });
    expect(cache.misses).toBe(0);
  });

  it("does not trust remembered bytes once the file changed, nor bytes that are not the file's", async () => {
    const f = join(dir, "changed.rlib");
    writeFileSync(f, "first");
    const cache = new FileHashCache();
    cache.rememberWritten(f, Buffer.from("first"));
    writeFileSync(f, "second, longer");
    expect((await cache.digest(f))?.hash).toBe(hashBytes(Buffer.from("second, longer")));

    const g = join(dir, "other.rlib");
    writeFileSync(g, "on disk");
    cache.rememberWritten(g, Buffer.from("not what is on disk"));
    expect((await cache.digest(g))?.hash).toBe(hashBytes(Buffer.from("on disk")));
  });
});

describe("FileHashCache racy timestamps", () => {
  it("judges a file by the time its content was read, however late the check runs", async () => {
    const f = join(dir, "racy.h");
    writeFileSync(f, "#define R 1111\n");
    let delay = 0;
    const cache = new FileHashCache(1000, () => Date.now() + delay);
    const pending = cache.digest(f);
    // The read is under way: the daemon stalls (a loaded machine) for longer than the racy window before it looks at the clock.
    delay = 3000;
    expect((await pending)?.hash).toBe(hashBytes(Buffer.from("#define R 1111\n")));
    // Read while the file was fresh: a same-second rewrite would keep its stat, so the digest is not remembered.
    expect(cache.known(f)).toBe("unknown");
    expect(cache.vouched(f)).toBeUndefined();
  });

  it("vouches for a digest with the identity it was read under, only when read well after the file changed", async () => {
    const f = join(dir, "settled.h");
    writeFileSync(f, "#define S 1\n");
    const cache = new FileHashCache(1000, () => Date.now() + 3000);
    await cache.digest(f);
    const st = statSync(f, { bigint: true });
    expect(cache.vouched(f)).toEqual({
      digest: { hash: hashBytes(Buffer.from("#define S 1\n")), size: 12, tokens: [] },
      identity: { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs },
    });
  });

  it("never vouches for bytes Reprise wrote just now, though it serves their digest", async () => {
    const f = join(dir, "generated.h");
    const data = Buffer.from("#define G 1\n");
    writeFileSync(f, data);
    const cache = new FileHashCache();
    cache.rememberWritten(f, data);
    expect((await cache.digest(f))?.hash).toBe(hashBytes(data));
    expect(cache.vouched(f)).toBeUndefined();
  });

  it("stops vouching for an old identity once the file was rewritten with the same bytes (read again while racy)", async () => {
    const f = join(dir, "touched.h");
    writeFileSync(f, "#define T 1\n");
    let skew = 60_000;
    const cache = new FileHashCache(1000, () => Date.now() + skew);
    await cache.digest(f);
    expect(cache.vouched(f)).toBeDefined();
    // Rewritten with the same bytes (a generator run again): a new inode and times, read while racy.
    rmSync(f);
    writeFileSync(f, "#define T 1\n");
    skew = 0;
    expect((await cache.digest(f))?.hash).toBe(hashBytes(Buffer.from("#define T 1\n")));
    // The old identity would give a hit-index entry the native client can never match.
    expect(cache.vouched(f)).toBeUndefined();
    // Once settled, settle() reads it again and vouches for the new identity.
    skew = 60_000;
    await cache.settle(f);
    const st = statSync(f, { bigint: true });
    expect(cache.vouched(f)?.identity).toEqual({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
  });

  it("gives a text digest when asked (once per content and reading, apart from the content digest), tagged so it never equals a content hash", async () => {
    const f = join(dir, "texted.h");
    writeFileSync(f, "int a; // one\n");
    let reads = 0;
    const blank = (data: Buffer) => Buffer.from(data.toString().replace(/\s*\/\/.*$/gm, ""));
    const reading = { id: "test\0c", read: (data: Buffer) => (reads++, { text: blank(data) }) };
    const cache = new FileHashCache(1000, () => Date.now() + 10_000);
    const plainDigest = await cache.digest(f, ["__TIME__"]);
    expect(plainDigest?.text).toBeUndefined();
    const first = await cache.digest(f, ["__TIME__"], reading);
    expect(first?.hash).toBe(plainDigest?.hash);
    expect(first?.text?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(first?.text?.hash).not.toBe(hashBytes(Buffer.from("int a;\n")));
    await cache.digest(f, ["__TIME__"], reading);
    expect(reads, "remembered by stat identity").toBe(1);
    // The content digest read with it is vouched for too (the hit index asks by content only).
    const fresh = new FileHashCache(1000, () => Date.now() + 10_000);
    await fresh.digest(f, ["__TIME__"], reading);
    expect(fresh.vouched(f, ["__TIME__"])?.digest).toEqual({ hash: first?.hash, size: first?.size, tokens: [] });
    // Another reading (dialect) of the same bytes is another digest.
    const other = await cache.digest(f, ["__TIME__"], { id: "test\0c++", read: reading.read });
    expect(other?.text?.hash).not.toBe(first?.text?.hash);
    writeFileSync(f, "int a; // two, longer\n");
    const edited = await cache.digest(f, ["__TIME__"], reading);
    expect(edited?.hash).not.toBe(first?.hash);
    expect(edited?.text?.hash).toBe(first?.text?.hash);
    const none = await cache.digest(f, [], { id: "none", read: () => ({ text: null, embeds: true }) });
    expect(none?.text).toEqual({ hash: undefined, embeds: true });
  });

  it("knows a text digest by content (for digests taken elsewhere: a farm job's inputs), under the reading it was read with only", async () => {
    const f = join(dir, "by-content.h");
    writeFileSync(f, "int b; // note\n");
    const reading = { id: "test\0c", read: (data: Buffer) => ({ text: Buffer.from(data.toString().replace(/\s*\/\/.*$/gm, "")) }) };
    const cache = new FileHashCache(1000, () => Date.now() + 10_000);
    const content = (await cache.digest(f))!;
    expect(cache.knownText(content.hash, reading), "never read for its text").toBeUndefined();
    const texted = await cache.digest(f, [], reading);
    expect(cache.knownText(content.hash, reading)).toEqual(texted?.text);
    expect(cache.knownText(content.hash, { ...reading, id: "test\0c++" })).toBeUndefined();
    expect(cache.knownText(hashBytes(Buffer.from("other bytes")), reading)).toBeUndefined();
  });
});
