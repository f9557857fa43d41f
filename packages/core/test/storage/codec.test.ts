import { randomBytes } from "node:crypto";
import { crc32, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeEntry, decodeManifest, encodeEntry, encodeManifest, RAW_MIN_BODY, rawEntryInPlace, rekeyEntry, type CacheEntry, type Manifest } from "../../src/storage/codec.js";
import { CorruptEntryError, EntryKeyMismatchError, OutdatedEntryError } from "../../src/util/errors.js";

/** The key blobs are stored under in these tests. */
const K = "5".repeat(64);

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

function sampleEntry(): CacheEntry {
  return {
    outputs: [
      { role: "object", data: Buffer.concat([allBytes, randomBytes(5000)]) },
      { role: "dep-file", data: Buffer.alloc(0) },
      { role: "ünïcode role ✓", data: Buffer.from("x") },
    ],
    stdout: Buffer.from("warning: something\n"),
    stderr: Buffer.concat([Buffer.from([0, 0xff, 0x80]), allBytes]),
    exitCode: 0,
    compileMs: 1234.5,
    createdAt: 1_700_000_000_123,
  };
}

/** A blob with a valid header and gzip framing around an arbitrary body, to test body-level checks. */
function frame(magic: string, body: Buffer, version = 2): Buffer {
  const header = Buffer.alloc(8);
  header.write(magic, 0, "latin1");
  header.writeUInt32BE(version, 4);
  return Buffer.concat([header, Buffer.from(K, "hex"), gzipSync(body)]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function f64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(n);
  return b;
}

async function expectCorrupt(p: Promise<unknown>, message?: RegExp): Promise<CorruptEntryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CorruptEntryError);
  if (message) expect((err as Error).message).toMatch(message);
  return err as CorruptEntryError;
}

describe("entry codec", () => {
  it("round-trips binary outputs, empty outputs and all numeric fields", async () => {
    const entry = sampleEntry();
    const decoded = await decodeEntry(await encodeEntry(entry, K), K);
    expect(decoded.outputs.map((o) => o.role)).toEqual(entry.outputs.map((o) => o.role));
    for (let i = 0; i < entry.outputs.length; i++) expect(decoded.outputs[i]!.data.equals(entry.outputs[i]!.data)).toBe(true);
    expect(decoded.outputs[1]!.data.length).toBe(0);
    expect(decoded.stdout.equals(entry.stdout)).toBe(true);
    expect(decoded.stderr.equals(entry.stderr)).toBe(true);
    expect(decoded.exitCode).toBe(0);
    expect(decoded.compileMs).toBe(1234.5);
    expect(decoded.createdAt).toBe(1_700_000_000_123);
  });

  it("round-trips an entry with no outputs and empty streams", async () => {
    const entry: CacheEntry = { outputs: [], stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: -1, compileMs: 0.25, createdAt: 0 };
    const decoded = await decodeEntry(await encodeEntry(entry, K), K);
    expect(decoded).toEqual(entry);
  });

  it("round-trips a multi-megabyte incompressible output", async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const decoded = await decodeEntry(await encodeEntry({ ...sampleEntry(), outputs: [{ role: "object", data }] }, K), K);
    expect(decoded.outputs[0]!.data.equals(data)).toBe(true);
  });

  it("starts with the entry magic and format version", async () => {
    const blob = await encodeEntry(sampleEntry(), K);
    expect(blob.toString("latin1", 0, 4)).toBe("RPRe");
    expect(blob.readUInt32BE(4)).toBe(2);
    expect(blob.subarray(8, 40).toString("hex")).toBe(K);
    expect(blob.subarray(40, 42)).toEqual(Buffer.from([0x1f, 0x8b]));
  });

  it("detects a byte flipped in the middle", async () => {
    const blob = await encodeEntry(sampleEntry(), K);
    const bad = Buffer.from(blob);
    bad[bad.length >> 1]! ^= 0x01;
    await expectCorrupt(decodeEntry(bad, K));
  });

  it("detects a flip of any byte except the two informational gzip header bytes", async () => {
    const entry: CacheEntry = { outputs: [{ role: "object", data: Buffer.from("int main() { return 0; }\n".repeat(3)) }], stdout: Buffer.from("out"), stderr: Buffer.alloc(0), exitCode: 0, compileMs: 5, createdAt: 99 };
    const blob = await encodeEntry(entry, K);
    const XFL = 40 + 8;
    const OS = 40 + 9;
    const undetected: number[] = [];
    for (let i = 0; i < blob.length; i++) {
      if (i === XFL || i === OS) continue;
      const bad = Buffer.from(blob);
      bad[i]! ^= 0xff;
      try {
        await decodeEntry(bad, K);
        undetected.push(i);
      } catch (err) {
        expect(err).toBeInstanceOf(CorruptEntryError);
      }
    }
    expect(undetected).toEqual([]);
  });

  it("detects truncation at every length", async () => {
    const blob = await encodeEntry(sampleEntry(), K);
    for (let len = 0; len < blob.length; len += len < 64 ? 1 : 97) {
      await expectCorrupt(decodeEntry(blob.subarray(0, len), K));
    }
    await expectCorrupt(decodeEntry(blob.subarray(0, blob.length - 1), K));
  });

  it("detects bytes appended after the compressed data", async () => {
    const blob = await encodeEntry(sampleEntry(), K);
    for (const extra of [Buffer.from([0]), Buffer.from("garbage!"), gzipSync(Buffer.from("another member"))]) {
      await expectCorrupt(decodeEntry(Buffer.concat([blob, extra]), K));
    }
  });

  it("rejects wrong magic, a manifest, and an unknown format version", async () => {
    const blob = await encodeEntry(sampleEntry(), K);
    const wrongMagic = Buffer.from(blob);
    wrongMagic.write("XXXX", 0, "latin1");
    await expectCorrupt(decodeEntry(wrongMagic, K), /magic/);
    await expectCorrupt(decodeEntry(await encodeManifest({ entries: [] }, K), K), /magic/);
    const wrongVersion = Buffer.from(blob);
    wrongVersion.writeUInt32BE(4, 4);
    await expectCorrupt(decodeEntry(wrongVersion, K), /version 4/);
    await expectCorrupt(decodeEntry(Buffer.alloc(0), K), /too short/);
  });

  it("rejects bodies that are short or have trailing bytes, even with valid compression", async () => {
    const valid = Buffer.concat([f64(0), f64(1), f64(2), u32(1), u32(1), Buffer.from("o"), u32(2), Buffer.from("ab"), u32(0), u32(0)]);
    const ok = await decodeEntry(frame("RPRe", valid), K);
    expect(ok.outputs[0]!.data.toString()).toBe("ab");
    await expectCorrupt(decodeEntry(frame("RPRe", Buffer.concat([valid, Buffer.from([7])])), K), /1 unexpected trailing bytes/);
    await expectCorrupt(decodeEntry(frame("RPRe", valid.subarray(0, valid.length - 2)), K), /truncated body/);
    // A section length pointing past the end of the body.
    const overlong = Buffer.from(valid);
    overlong.writeUInt32BE(1000, 8 * 3 + 4 + 4 + 1);
    await expectCorrupt(decodeEntry(frame("RPRe", overlong), K), /truncated body/);
    // A huge output count must fail fast instead of allocating.
    await expectCorrupt(decodeEntry(frame("RPRe", Buffer.concat([f64(0), f64(0), f64(0), u32(0xffffffff)])), K), /outputs/);
  });
});

/** An entry whose body passes RAW_MIN_BODY: a compressible rlib-like output plus a small dep-info. */
function largeEntry(): CacheEntry {
  const rlib = Buffer.concat([Buffer.from("!<arch>\n"), Buffer.alloc(RAW_MIN_BODY, "fn main() { let x = 1; }\n"), randomBytes(4096)]);
  return { ...sampleEntry(), outputs: [{ role: "rlib", data: rlib }, { role: "dep-info", data: Buffer.from("a.d: a.rs\n") }] };
}

describe("large entries are stored raw (version 3)", () => {
  it("writes the body as is behind a CRC-32, and reads it back byte for byte", async () => {
    const entry = largeEntry();
    const blob = await encodeEntry(entry, K);
    expect(blob.toString("latin1", 0, 4)).toBe("RPRe");
    expect(blob.readUInt32BE(4)).toBe(3);
    expect(blob.subarray(8, 40).toString("hex")).toBe(K);
    expect(blob.readUInt32BE(40)).toBe(crc32(blob.subarray(44)));
    // Not compressed: the rlib's bytes are in the blob.
    expect(blob.includes(entry.outputs[0]!.data.subarray(0, 64))).toBe(true);
    const decoded = await decodeEntry(blob, K);
    expect(decoded.outputs.map((o) => o.role)).toEqual(["rlib", "dep-info"]);
    for (let i = 0; i < entry.outputs.length; i++) expect(decoded.outputs[i]!.data.equals(entry.outputs[i]!.data)).toBe(true);
    expect(decoded.stdout.equals(entry.stdout)).toBe(true);
    expect(decoded.stderr.equals(entry.stderr)).toBe(true);
    expect([decoded.exitCode, decoded.compileMs, decoded.createdAt]).toEqual([entry.exitCode, entry.compileMs, entry.createdAt]);
  });

  it("an entry just under the size stays gzipped (version 2)", async () => {
    const small = { ...sampleEntry(), outputs: [{ role: "object", data: Buffer.alloc(RAW_MIN_BODY - 4096, 7) }] };
    const blob = await encodeEntry(small, K);
    expect(blob.readUInt32BE(4)).toBe(2);
    expect(blob.length).toBeLessThan(RAW_MIN_BODY / 10);
  });

  it("still reads a large entry gzipped by the previous format", async () => {
    const entry = largeEntry();
    const raw = await encodeEntry(entry, K);
    const old = frame("RPRe", raw.subarray(44));
    expect((await decodeEntry(old, K)).outputs[0]!.data.equals(entry.outputs[0]!.data)).toBe(true);
  });

  it("detects a flipped byte anywhere (header, checksum, every section, a sample of the data), truncation and appended bytes", async () => {
    const blob = await encodeEntry(largeEntry(), K);
    const positions = new Set<number>();
    for (let i = 0; i < 200; i++) positions.add(i);
    for (let i = 200; i < blob.length; i += 65_521) positions.add(i);
    for (let i = blob.length - 200; i < blob.length; i++) positions.add(i);
    const undetected: number[] = [];
    for (const i of positions) {
      const bad = Buffer.from(blob);
      bad[i]! ^= 0x5a;
      try {
        await decodeEntry(bad, K);
        undetected.push(i);
      } catch (err) {
        expect(err).toBeInstanceOf(i >= 8 && i < 40 ? EntryKeyMismatchError : CorruptEntryError);
      }
    }
    expect(undetected).toEqual([]);
    for (const len of [0, 8, 40, 43, 44, 100, blob.length - 1]) await expectCorrupt(decodeEntry(blob.subarray(0, len), K));
    await expectCorrupt(decodeEntry(Buffer.concat([blob, Buffer.from([0])]), K));
  });

  it("rekeys a raw entry: the same entry under the new key only", async () => {
    const other = "6".repeat(64);
    const blob = await encodeEntry(largeEntry(), K);
    const moved = rekeyEntry(blob, K, other)!;
    expect(moved.subarray(40).equals(blob.subarray(40))).toBe(true);
    // Buffer.equals: a deep toEqual of megabytes takes seconds.
    const [a, b] = [await decodeEntry(moved, other), await decodeEntry(blob, K)];
    expect(a.outputs.every((o, i) => o.role === b.outputs[i]!.role && o.data.equals(b.outputs[i]!.data))).toBe(true);
    await expect(decodeEntry(moved, K)).rejects.toBeInstanceOf(EntryKeyMismatchError);
  });
});

describe("raw entries laid out before their outputs are read (rawEntryInPlace)", () => {
  const fill = (entry: CacheEntry): CacheEntry => {
    const views = rawEntryInPlace(entry.outputs.map((o) => o.role), entry.outputs.map((o) => o.data.length), entry.stdout, entry.stderr)!;
    expect(views).toBeDefined();
    entry.outputs.forEach((o, i) => o.data.copy(views[i]!));
    return { ...entry, outputs: entry.outputs.map((o, i) => ({ role: o.role, data: views[i]! })) };
  };

  it("gives the same blob, byte for byte, as encoding copies of the outputs", async () => {
    const entry = largeEntry();
    const copied = await encodeEntry(entry, K);
    const inPlace = fill(entry);
    const blob = await encodeEntry(inPlace, K);
    expect(blob.equals(copied)).toBe(true);
    // The outputs were read into the blob itself: no copy was made.
    expect(blob.buffer).toBe(inPlace.outputs[0]!.data.buffer);
  });

  it("is used once: encoding the entry again (another key) leaves the first blob as it was", async () => {
    const inPlace = fill(largeEntry());
    const first = await encodeEntry(inPlace, K);
    const before = Buffer.from(first);
    const other = "6".repeat(64);
    const second = await encodeEntry(inPlace, other);
    expect(first.equals(before)).toBe(true);
    expect(second.subarray(8, 40).toString("hex")).toBe(other);
    expect((await decodeEntry(second, other)).outputs[0]!.data.equals(inPlace.outputs[0]!.data)).toBe(true);
  });

  it("is not used for an entry whose outputs or streams were replaced (relocated for base directories)", async () => {
    const inPlace = fill(largeEntry());
    const changed = Buffer.from(inPlace.outputs[1]!.data.toString().replace("a.d", "b.d"));
    const relocated = { ...inPlace, outputs: [inPlace.outputs[0]!, { role: "dep-info", data: changed }], stderr: Buffer.from("other") };
    const decoded = await decodeEntry(await encodeEntry(relocated, K), K);
    expect(decoded.outputs[1]!.data.equals(changed)).toBe(true);
    expect(decoded.stderr.toString()).toBe("other");
  });

  it("is not offered for entries too small to be stored raw", () => {
    expect(rawEntryInPlace(["object"], [1000], Buffer.alloc(0), Buffer.alloc(0))).toBeUndefined();
    expect(rawEntryInPlace([], [], Buffer.alloc(RAW_MIN_BODY), Buffer.alloc(0))).toBeUndefined();
  });
});

describe("entries are bound to their key", () => {
  it("an entry or manifest read under another key is refused before inflating", async () => {
    const other = "6".repeat(64);
    const entry = await encodeEntry(sampleEntry(), K);
    expect(entry.subarray(8, 40).toString("hex")).toBe(K);
    await expect(decodeEntry(entry, other)).rejects.toBeInstanceOf(EntryKeyMismatchError);
    await expect(decodeManifest(await encodeManifest({ entries: [] }, K), other)).rejects.toBeInstanceOf(EntryKeyMismatchError);
  });

  it("rekeys an entry without compressing it again: the same entry under the new key, refused under the old, and only from its own key", async () => {
    const other = "6".repeat(64);
    const entry = await encodeEntry(sampleEntry(), K);
    const moved = rekeyEntry(entry, K, other)!;
    expect(moved.subarray(40).equals(entry.subarray(40))).toBe(true);
    expect(await decodeEntry(moved, other)).toEqual(await decodeEntry(entry, K));
    await expect(decodeEntry(moved, K)).rejects.toBeInstanceOf(EntryKeyMismatchError);
    expect(entry.subarray(8, 40).toString("hex")).toBe(K);
    expect(rekeyEntry(entry, other, K)).toBeUndefined();
    expect(rekeyEntry(await encodeManifest({ entries: [] }, K), K, other)).toBeUndefined();
    expect(rekeyEntry(entry.subarray(0, 20), K, other)).toBeUndefined();
  });

  it("a blob of the previous format (version 1, no key) is an outdated entry, not a fault", async () => {
    const old = Buffer.concat([Buffer.from("RPRe", "latin1"), Buffer.from([0, 0, 0, 1]), gzipSync(Buffer.alloc(40))]);
    const err = await decodeEntry(old, K).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutdatedEntryError);
    expect((err as OutdatedEntryError).code).toBe("E_ENTRY_VERSION");
  });

  it("refuses to encode under something that is not a key", async () => {
    await expect(encodeEntry(sampleEntry(), "../x")).rejects.toThrow(/64 lowercase hex/);
  });
});

describe("manifest codec", () => {
  const manifest: Manifest = {
    entries: [
      {
        files: [
          { path: "/src/a.h", hash: "a".repeat(64), size: 10 },
          { path: "/src/ü b.h", hash: "b".repeat(64), size: 0 },
        ],
        resultKey: "c".repeat(64),
        date: "2025-01-31",
      },
      { files: [], resultKey: "d".repeat(64) },
    ],
  };

  it("round-trips entries with and without a date", async () => {
    const blob = await encodeManifest(manifest, K);
    expect(blob.toString("latin1", 0, 4)).toBe("RPRm");
    const decoded = await decodeManifest(blob, K);
    expect(decoded).toEqual(manifest);
    expect("date" in decoded.entries[1]!).toBe(false);
  });

  it("writes the JSON of the whole manifest, an entry kept from an earlier encoding included", async () => {
    const body = (blob: Buffer) => blob.subarray(blob.length - Buffer.byteLength(JSON.stringify(expected)), blob.length).toString("utf8");
    let expected: Manifest = manifest;
    expect(body(await encodeManifest(manifest, K))).toBe(JSON.stringify(manifest));
    // The next rewrite adds an entry in front of the same entry objects: the whole is still one JSON text, in order.
    const added = { files: [{ path: "/src/\u{1F600}.h", hash: "e".repeat(64), size: 3, text: "f".repeat(64) }], resultKey: "9".repeat(64), absent: [{ dir: "/src", id: "", names: ["x.h"] }] };
    expected = { entries: [added, ...manifest.entries] };
    const again = await encodeManifest(expected, K);
    expect(body(again)).toBe(JSON.stringify(expected));
    expect(await decodeManifest(again, K)).toEqual(expected);
  });

  it("round-trips an empty manifest", async () => {
    expect(await decodeManifest(await encodeManifest({ entries: [] }, K), K)).toEqual({ entries: [] });
  });

  it("detects corruption, truncation and wrong magic", async () => {
    const blob = await encodeManifest(manifest, K);
    const flipped = Buffer.from(blob);
    flipped[blob.length >> 1]! ^= 0x10;
    await expectCorrupt(decodeManifest(flipped, K));
    await expectCorrupt(decodeManifest(blob.subarray(0, blob.length - 3), K));
    await expectCorrupt(decodeManifest(await encodeEntry(sampleEntry(), K), K), /magic/);
  });

  it("rejects well-framed bodies whose JSON is invalid or has the wrong shape", async () => {
    const body = (json: string) => {
      const b = Buffer.from(json);
      return frame("RPRm", Buffer.concat([u32(b.length), b]), 3);
    };
    await expectCorrupt(decodeManifest(body("{not json"), K), /does not parse/);
    await expectCorrupt(decodeManifest(body("[]"), K), /entries/);
    await expectCorrupt(decodeManifest(body('{"entries":[{"files":[],"resultKey":7}]}'), K), /result key/);
    await expectCorrupt(decodeManifest(body('{"entries":[{"files":[{"path":"a","hash":"b"}],"resultKey":"k"}]}'), K), /file 0/);
    await expectCorrupt(decodeManifest(body('{"entries":[{"files":[],"resultKey":"k","date":5}]}'), K), /date/);
    expect(await decodeManifest(body('{"entries":[{"files":[],"resultKey":"k","extra":1}]}'), K)).toEqual({ entries: [{ files: [], resultKey: "k" }] });
  });

  it("format 5 is written raw (CRC-32, no gzip) and keeps each file's text digest; gzipped formats 3 and 4 are still read, 6 is outdated", async () => {
    const withText: Manifest = { entries: [{ files: [{ path: "/src/a.h", hash: "a".repeat(64), size: 10, text: "e".repeat(64) }, { path: "/src/b.h", hash: "b".repeat(64), size: 1 }], resultKey: "c".repeat(64) }] };
    const blob = await encodeManifest(withText, K);
    expect(blob.readUInt32BE(4)).toBe(5);
    const json = JSON.stringify(withText);
    expect(blob.subarray(44 + 4).toString("utf8")).toBe(json);
    expect(blob.readUInt32BE(40)).toBe(crc32(blob.subarray(44)));
    expect(await decodeManifest(blob, K)).toEqual(withText);
    const gzipped = (version: number) => frame("RPRm", Buffer.concat([u32(Buffer.byteLength(json)), Buffer.from(json)]), version);
    expect(await decodeManifest(gzipped(4), K)).toEqual(withText);
    expect(await decodeManifest(gzipped(3), K)).toEqual(withText);
    const v6 = Buffer.from(blob);
    v6.writeUInt32BE(6, 4);
    await expect(decodeManifest(v6, K)).rejects.toThrow(/format version 6/);
    const body = (text: string) => {
      const b = Buffer.from(text);
      return frame("RPRm", Buffer.concat([u32(b.length), b]), 4);
    };
    await expectCorrupt(decodeManifest(body('{"entries":[{"files":[{"path":"a","hash":"b","size":1,"text":7}],"resultKey":"k"}]}'), K), /file 0/);
  });

  it("a raw manifest with any byte flipped, cut short or lengthened is refused", async () => {
    const blob = await encodeManifest(manifest, K);
    for (let i = 0; i < blob.length; i += 7) {
      const flipped = Buffer.from(blob);
      flipped[i]! ^= 0x01;
      await expect(decodeManifest(flipped, K), `byte ${i}`).rejects.toThrow();
    }
    await expectCorrupt(decodeManifest(blob.subarray(0, blob.length - 1), K));
    await expectCorrupt(decodeManifest(Buffer.concat([blob, Buffer.from(" ")]), K));
  });
});
