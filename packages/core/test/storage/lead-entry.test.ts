import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeEntry, encodeEntry, rekeyEntry, type CacheEntry } from "../../src/storage/codec.js";
import { crc32OfFile, encodeLeadEntry, leadEntryTail, LEAD_FOOTER_LENGTH } from "../../src/storage/lead-entry.js";
import { LocalDiskStorage } from "../../src/storage/local-disk-storage.js";
import { CorruptEntryError, EntryKeyMismatchError } from "../../src/util/errors.js";

const K = "7".repeat(64);
const OTHER = "8".repeat(64);

function entry(leadBytes = 300_000): CacheEntry {
  return {
    outputs: [
      { role: "dep-info", data: Buffer.from("deps/x.d: src/lib.rs\n") },
      { role: "rlib", data: randomBytes(leadBytes) },
      { role: "rmeta", data: randomBytes(4096) },
      { role: "empty ✓", data: Buffer.alloc(0) },
    ],
    stdout: Buffer.from('{"artifact":"x"}\n'),
    stderr: Buffer.from([0, 0xff, 1, 2]),
    exitCode: 0,
    compileMs: 812.5,
    createdAt: 1_765_000_000_123,
  };
}

describe("entry format 4 (lead output first, footer last)", () => {
  it("round-trips every part; the lead output comes back as a view of the blob's first bytes", async () => {
    const e = entry();
    const blob = encodeLeadEntry(e, 1, K);
    expect(blob.subarray(0, e.outputs[1]!.data.length).equals(e.outputs[1]!.data)).toBe(true);
    expect(blob.toString("latin1", blob.length - 4)).toBe("RPRt");
    const back = await decodeEntry(blob, K);
    expect(back.outputs.map((o) => o.role)).toEqual(e.outputs.map((o) => o.role));
    back.outputs.forEach((o, i) => expect(o.data.equals(e.outputs[i]!.data)).toBe(true));
    expect(back.stdout.equals(e.stdout)).toBe(true);
    expect(back.stderr.equals(e.stderr)).toBe(true);
    expect([back.exitCode, back.compileMs, back.createdAt]).toEqual([e.exitCode, e.compileMs, e.createdAt]);
  });

  it("refuses a blob with any byte altered, cut short or lengthened, and one stored under another key", async () => {
    const blob = encodeLeadEntry(entry(), 1, K);
    for (const at of [0, 1000, blob.length - LEAD_FOOTER_LENGTH - 3, blob.length - LEAD_FOOTER_LENGTH]) {
      const bad = Buffer.from(blob);
      bad[at] = bad[at]! ^ 0x01;
      await expect(decodeEntry(bad, K), `byte ${at}`).rejects.toBeInstanceOf(CorruptEntryError);
    }
    // Zeroed lead bytes (a torn write that kept the length) and a cut or padded start.
    const zeroed = Buffer.from(blob);
    zeroed.fill(0, 0, 4096);
    await expect(decodeEntry(zeroed, K)).rejects.toBeInstanceOf(CorruptEntryError);
    await expect(decodeEntry(blob.subarray(10), K)).rejects.toBeInstanceOf(CorruptEntryError);
    await expect(decodeEntry(Buffer.concat([Buffer.alloc(7), blob]), K)).rejects.toBeInstanceOf(CorruptEntryError);
    await expect(decodeEntry(blob, OTHER)).rejects.toBeInstanceOf(EntryKeyMismatchError);
  });

  it("is rebound to another key by its footer alone", async () => {
    const e = entry();
    const moved = rekeyEntry(encodeLeadEntry(e, 1, K), K, OTHER)!;
    expect((await decodeEntry(moved, OTHER)).outputs[1]!.data.equals(e.outputs[1]!.data)).toBe(true);
    await expect(decodeEntry(moved, K)).rejects.toBeInstanceOf(EntryKeyMismatchError);
    expect(rekeyEntry(moved, K, OTHER)).toBeUndefined();
  });

  it("is told apart from formats 2 and 3, which are still read", async () => {
    const small = entry(100);
    const large = entry(2 * 1024 * 1024);
    for (const e of [small, large]) {
      const back = await decodeEntry(await encodeEntry(e, K), K);
      back.outputs.forEach((o, i) => expect(o.data.equals(e.outputs[i]!.data)).toBe(true));
    }
    // A format-3 body that happens to end in "RPRt" is still read as format 3.
    const tricky = entry(2 * 1024 * 1024);
    tricky.stderr = Buffer.from("...RPRt");
    expect((await decodeEntry(await encodeEntry(tricky, K), K)).stderr.toString()).toBe("...RPRt");
    // A format-4 entry whose lead output is itself a cache blob (starts with "RPRe").
    const cached = entry();
    cached.outputs[1]!.data = await encodeEntry(entry(2 * 1024 * 1024), OTHER);
    expect((await decodeEntry(encodeLeadEntry(cached, 1, K), K)).outputs[1]!.data.equals(cached.outputs[1]!.data)).toBe(true);
  });
});

describe("LocalDiskStorage.beginCopy", () => {
  let dir: string;
  let work: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "reprise-lead-cache-"));
    work = mkdtempSync(join(tmpdir(), "reprise-lead-work-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it("stores a copy the kernel made: readable as the entry, private, unchanged by later writes to the output", async () => {
    const storage = new LocalDiskStorage({ kind: "local", dir, maxSizeBytes: 1 << 30 });
    const e = entry(3 * 1024 * 1024);
    const output = join(work, "libx.rlib");
    writeFileSync(output, e.outputs[1]!.data, { mode: 0o755 });
    const staged = storage.beginCopy("result", output)!;
    expect(staged.size).toBe(e.outputs[1]!.data.length);
    expect(statSync(staged.path).mode & 0o777).toBe(0o600);
    // The build rewrites its output right after the answer: the copy stays as the compile wrote it.
    appendFileSync(output, "later");
    writeFileSync(output, randomBytes(100));
    await staged.finish(K, leadEntryTail(e, 1, staged.size, crc32OfFile(staged.path, staged.size)!, K));
    expect(existsSync(staged.path)).toBe(false);
    const blob = (await storage.read("result", K))!;
    const back = await decodeEntry(blob, K);
    back.outputs.forEach((o, i) => expect(o.data.equals(e.outputs[i]!.data)).toBe(true));
    const file = storage.localFile("result", K);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(file).nlink).toBe(1);
    expect((await storage.usage()).sizeBytes).toBe(blob.length);
    await storage.close();
  });

  it("leaves nothing behind when discarded, and a stale copy of a crashed daemon is removed by the next scan", async () => {
    const storage = new LocalDiskStorage({ kind: "local", dir, maxSizeBytes: 1 << 30 });
    const output = join(work, "prog");
    writeFileSync(output, randomBytes(2 * 1024 * 1024));
    const staged = storage.beginCopy("result", output)!;
    staged.discard();
    expect(existsSync(staged.path)).toBe(false);
    await expect(staged.finish(K, Buffer.alloc(0))).rejects.toThrow(/already finished or discarded/);
    const crashed = storage.beginCopy("result", output)!;
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    const { utimesSync } = await import("node:fs");
    utimesSync(crashed.path, old, old);
    const next = new LocalDiskStorage({ kind: "local", dir, maxSizeBytes: 1 << 30 });
    expect((await next.usage()).entries).toBe(0);
    expect(readdirSync(join(dir, "results", ".staging"))).toEqual([]);
    await storage.close();
    await next.close();
  });

  it("does not copy what is not a regular file", () => {
    const storage = new LocalDiskStorage({ kind: "local", dir, maxSizeBytes: 1 << 30 });
    expect(storage.beginCopy("result", work)).toBeUndefined();
    expect(storage.beginCopy("result", join(work, "absent"))).toBeUndefined();
  });

  it("a copy whose CRC is taken from it detects a cache file damaged afterwards", async () => {
    const storage = new LocalDiskStorage({ kind: "local", dir, maxSizeBytes: 1 << 30 });
    const e = entry(1024 * 1024 + 5);
    const output = join(work, "liby.rlib");
    writeFileSync(output, e.outputs[1]!.data);
    const staged = storage.beginCopy("result", output)!;
    await staged.finish(K, leadEntryTail(e, 1, staged.size, crc32OfFile(staged.path, staged.size)!, K));
    const file = storage.localFile("result", K);
    const bytes = readFileSync(file);
    bytes[12345] = bytes[12345]! ^ 0x80;
    writeFileSync(file, bytes);
    await expect(decodeEntry((await storage.read("result", K))!, K)).rejects.toBeInstanceOf(CorruptEntryError);
    await storage.close();
  });
});
