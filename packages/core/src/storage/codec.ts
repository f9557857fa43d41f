import { promisify } from "node:util";
import { crc32, gunzip as gunzipCb, gunzipSync, gzip as gzipCb, gzipSync } from "node:zlib";
import { CorruptEntryError, EntryKeyMismatchError, OutdatedEntryError } from "../util/errors.js";
import { decodeLeadEntry, isLeadEntry, rekeyLeadEntry } from "./lead-entry.js";

/**
 * Cache entries and manifests as bytes.
 *
 * Blob = 40-byte header (4-byte magic, u32 BE format version, the 32 bytes of
 * the key the blob is stored under), then the body, either
 *   version 2 (manifests: 3 and 4): one gzip member of the body, or
 *   version 3 ("raw"; manifests: 5): u32 CRC-32 of the body, then the body as is;
 * or, for entries, version 4 ("lead", see lead-entry.ts): the largest output
 * first and the header as a footer, so the kernel can copy that output in.
 * Entries whose body is at least RAW_MIN_BODY bytes (rlibs, programs, large
 * objects) are written raw: gzip cost about 9 ms of CPU per MB of rlib where
 * the CRC costs 0.2, and a hit needs no inflating; the price is disk (rlibs
 * deflate to about a third). Smaller entries stay version 2, which daemons
 * of the previous format read too. Manifests are written raw: most of their
 * JSON is hex digests, which gzip barely shrinks (42 KB to 17 KB for 197
 * files) at 0.6 ms of CPU per miss. The key binds a blob to its place: one
 * copied, linked or moved under another key is refused before it is
 * inflated. Integrity: the CRC-32 (zlib checks the gzip one while inflating);
 * on top of that the header, the gzip framing around the member and the exact
 * length of every body section are verified, so anything short, long or
 * altered throws CorruptEntryError.
 *
 * Entry body (all integers u32 BE, lengths in bytes):
 *   f64 exitCode, f64 compileMs, f64 createdAt   (f64: any JS number round-trips)
 *   u32 outputCount, then per output: u32 roleLen, role (UTF-8), u32 dataLen, data
 *   u32 stdoutLen, stdout, u32 stderrLen, stderr
 * Manifest body: u32 jsonLen, JSON `{ entries }`.
 */

export interface CacheEntry {
  outputs: { role: string; data: Buffer }[];
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
  compileMs: number;
  createdAt: number;
}

export interface ManifestEntry {
  /** `text`: the file's text digest (a silent compile whose plugin reads text, see `textDigest`), matched when its content is not. */
  files: { path: string; hash: string; size: number; text?: string }[];
  resultKey: string;
  /** YYYY-MM-DD, when the result depends on the date (__DATE__ and friends). */
  date?: string;
  /** Environment variables the compile read (e.g. rustc's `env!`), null when unset. */
  env?: { name: string; value: string | null }[];
  /** The base directories (`baseDirs`) the result is bound to, when its outputs record their paths. */
  root?: string;
  /** Where no file may appear for the entry to hold: a header there would shadow one the compile read, or answer a probe (engine/absent-paths.ts). */
  absent?: AbsentGuard[];
  /** The compile's result depends on something direct mode cannot watch (`__has_include(MACRO)`): such calls use preprocessor mode. */
  preprocessor?: boolean;
}

/**
 * Paths below one existing directory where no file may be. `id` is the
 * directory's stat identity ("dev:ino:mtimeNs:ctimeNs") when every name was
 * last seen absent, or "" when it was changing then: while the directory
 * keeps that identity no name below it can have appeared; otherwise each
 * name is checked.
 */
export interface AbsentGuard {
  dir: string;
  id: string;
  /** Relative to `dir`, one or more components. */
  names: string[];
}

export interface Manifest {
  entries: ManifestEntry[];
}

const ENTRY_MAGIC = "RPRe";
const ENTRY_MAGIC_BYTES = Buffer.from(ENTRY_MAGIC, "latin1");
const MANIFEST_MAGIC = "RPRm";
/** 2: the key in the header, the body gzipped. Older blobs are misses (OutdatedEntryError), not errors. */
const FORMAT_VERSION = 2;
/** 3: an entry's body stored as is after its CRC-32 (see above); read alongside version 2. */
const RAW_ENTRY_VERSION = 3;
/**
 * 3: entries name the paths that must stay absent (`absent`); a manifest without them would be trusted wrongly.
 * 4: files may carry their text digest (`text`). Version 3 manifests are still read (their files have none).
 * 5: version 4 stored raw (CRC-32, no gzip). Versions 3 and 4 are still read.
 */
const MANIFEST_FORMAT_VERSION = 5;
const MANIFEST_VERSIONS_READ = new Set([3, 4, 5]);

function formatVersion(magic: string): number {
  return magic === MANIFEST_MAGIC ? MANIFEST_FORMAT_VERSION : FORMAT_VERSION;
}

function readableVersion(magic: string, version: number): boolean {
  return magic === MANIFEST_MAGIC ? MANIFEST_VERSIONS_READ.has(version) : version === FORMAT_VERSION || version === RAW_ENTRY_VERSION;
}
const KEY_BYTES = 32;
const KEY_PATTERN = /^[0-9a-f]{64}$/;
const HEADER_LENGTH = 8 + KEY_BYTES;
/** Entry bodies from this size are stored raw (version 3); measured on a cargo build's rlibs, rmeta and programs. */
export const RAW_MIN_BODY = 1024 * 1024;
const CRC_LENGTH = 4;
/**
 * Levels 1 to 3 are zlib's fast strategy. On 15 libuv objects (10–180 KB, -O0 and -O2 -g), alternating
 * (bench/results/2026-12-06-miss-serve-gzip.mjs): level 2 cost 20 % less CPU than 3 for 1.3 % more bytes;
 * level 1 another 5 % less for 2.5 % more. Readers do not depend on the level.
 */
const GZIP_LEVEL = 2;
/** Up to this size a body is compressed synchronously (well under a millisecond at level 3). */
const SYNC_GZIP_MAX = 256 * 1024;
/** ID1 ID2 CM=deflate FLG=0 MTIME=0: what node:zlib always writes. XFL and OS (2 bytes) vary and carry no data. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]);
const GZIP_HEADER_LENGTH = 10;
const GZIP_TRAILER_LENGTH = 8;
const MAX_U32 = 0xffff_ffff;

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);
const SYNC_INFLATE_LIMIT = 1024 * 1024;
const MAX_SINGLE_CHUNK = 256 * 1024 * 1024;

/** A raw entry's blob allocated before its outputs are read (see `rawEntryInPlace`). */
interface InPlace {
  blob: Buffer;
  roles: string[];
  views: Buffer[];
  stdout: Buffer;
  stderr: Buffer;
}

/** Blobs laid out by `rawEntryInPlace`, by their first output's view; taken (once) by `encodeEntry`. */
const laidOut = new WeakMap<Buffer, InPlace>();

/**
 * Room for the outputs of an entry that will be stored raw, in the blob it
 * will be stored as: the caller reads each output into its view (exactly
 * `sizes[i]` bytes), and `encodeEntry` of an entry made of those views and
 * these streams then only adds the header, numbers and checksum, instead of
 * copying multi-MB outputs into a new buffer (a second allocation of every
 * output, which also makes V8 collect garbage more often). Undefined when the
 * entry is too small to be stored raw.
 */
export function rawEntryInPlace(roles: readonly string[], sizes: readonly number[], stdout: Buffer, stderr: Buffer): Buffer[] | undefined {
  if (roles.length === 0 || roles.length !== sizes.length) return undefined;
  const roleBytes = roles.map((r) => Buffer.from(r, "utf8"));
  let size = 3 * 8 + 4 + 4 + stdout.length + 4 + stderr.length;
  for (let i = 0; i < roles.length; i++) size += 4 + roleBytes[i]!.length + 4 + sizes[i]!;
  if (size < RAW_MIN_BODY) return undefined;
  const offset = HEADER_LENGTH + CRC_LENGTH;
  const w = new Writer(size, offset);
  w.f64(0);
  w.f64(0);
  w.f64(0);
  w.u32(roles.length);
  const views: Buffer[] = [];
  for (let i = 0; i < roles.length; i++) {
    w.bytes(roleBytes[i]!);
    views.push(w.skip(sizes[i]!));
  }
  w.bytes(stdout);
  w.bytes(stderr);
  const blob = w.finish();
  laidOut.set(views[0]!, { blob, roles: [...roles], views, stdout, stderr });
  return views;
}

/** The blob `rawEntryInPlace` laid out for exactly this entry's outputs and streams, taken so no second encoding reuses it. */
function takeInPlace(e: CacheEntry): Buffer | undefined {
  const first = e.outputs[0]?.data;
  const p = first && laidOut.get(first);
  if (!p) return undefined;
  laidOut.delete(first);
  const same =
    p.views.length === e.outputs.length &&
    e.outputs.every((o, i) => o.data === p.views[i] && o.role === p.roles[i]) &&
    (e.stdout === p.stdout || e.stdout.equals(p.stdout)) &&
    (e.stderr === p.stderr || e.stderr.equals(p.stderr));
  return same ? p.blob : undefined;
}

/** `key` is the result key the entry is stored under (64 hex digits). */
export async function encodeEntry(e: CacheEntry, key: string): Promise<Buffer> {
  const inPlace = takeInPlace(e);
  if (inPlace) {
    const offset = HEADER_LENGTH + CRC_LENGTH;
    inPlace.writeDoubleBE(e.exitCode, offset);
    inPlace.writeDoubleBE(e.compileMs, offset + 8);
    inPlace.writeDoubleBE(e.createdAt, offset + 16);
    writeHeader(inPlace, ENTRY_MAGIC, RAW_ENTRY_VERSION, keyBytes(key));
    inPlace.writeUInt32BE(crc32(inPlace.subarray(offset)), HEADER_LENGTH);
    return inPlace;
  }
  const roles = e.outputs.map((o) => Buffer.from(o.role, "utf8"));
  let size = 3 * 8 + 4 + 4 + e.stdout.length + 4 + e.stderr.length;
  for (let i = 0; i < roles.length; i++) size += 4 + roles[i]!.length + 4 + e.outputs[i]!.data.length;

  // A raw body is written in place behind its header: the outputs are copied once, into the blob itself.
  const raw = size >= RAW_MIN_BODY;
  const offset = raw ? HEADER_LENGTH + CRC_LENGTH : 0;
  const w = new Writer(size, offset);
  w.f64(e.exitCode);
  w.f64(e.compileMs);
  w.f64(e.createdAt);
  w.u32(e.outputs.length);
  for (let i = 0; i < roles.length; i++) {
    w.bytes(roles[i]!);
    w.bytes(e.outputs[i]!.data);
  }
  w.bytes(e.stdout);
  w.bytes(e.stderr);
  if (!raw) return pack(ENTRY_MAGIC, key, w.finish());
  const blob = w.finish();
  writeHeader(blob, ENTRY_MAGIC, RAW_ENTRY_VERSION, keyBytes(key));
  blob.writeUInt32BE(crc32(blob.subarray(offset)), HEADER_LENGTH);
  return blob;
}

/**
 * The same stored entry bound to another key: the compressed body is kept,
 * only the header's key changes (compressing it again cost as much as the
 * first time). Undefined when `blob` is not an entry of this format written
 * for `fromKey`.
 */
export function rekeyEntry(blob: Buffer, fromKey: string, toKey: string): Buffer | undefined {
  if (!blob.subarray(0, 4).equals(ENTRY_MAGIC_BYTES) && isLeadEntry(blob)) return rekeyLeadEntry(blob, fromKey, toKey);
  if (blob.length < HEADER_LENGTH || blob.toString("latin1", 0, 4) !== ENTRY_MAGIC || !readableVersion(ENTRY_MAGIC, blob.readUInt32BE(4))) return undefined;
  if (!blob.subarray(8, HEADER_LENGTH).equals(keyBytes(fromKey))) return undefined;
  const out = Buffer.from(blob);
  keyBytes(toKey).copy(out, 8);
  return out;
}

/** Throws EntryKeyMismatchError when the blob was written for another key than `key`. */
export async function decodeEntry(buf: Buffer, key: string): Promise<CacheEntry> {
  const headed = buf.subarray(0, 4).equals(ENTRY_MAGIC_BYTES);
  if (!isLeadEntry(buf)) return decodeHeaded(buf, key);
  if (!headed) return decodeLeadEntry(buf, key);
  // Both ends look right: a format-4 entry whose lead output is itself a cache blob, or a format-3 body ending in
  // the footer's magic. Format 4's checksum covers every byte before its footer, so only one reading holds.
  try {
    return decodeLeadEntry(buf, key);
  } catch (err) {
    if (err instanceof CorruptEntryError) return decodeHeaded(buf, key);
    throw err;
  }
}

/** Formats 2 and 3: the header first. */
async function decodeHeaded(buf: Buffer, key: string): Promise<CacheEntry> {
  const r = new Reader(await unpack(ENTRY_MAGIC, "entry", key, buf));
  const exitCode = r.f64("exit code");
  const compileMs = r.f64("compile time");
  const createdAt = r.f64("creation time");
  const count = r.u32("output count");
  // Each output takes at least 8 bytes: a corrupt count must not allocate a huge array.
  if (count * 8 > r.remaining) throw new CorruptEntryError(`entry claims ${count} outputs in ${r.remaining} bytes`);
  const outputs: CacheEntry["outputs"] = [];
  for (let i = 0; i < count; i++) {
    const role = r.bytes(`output ${i} role`).toString("utf8");
    outputs.push({ role, data: r.bytes(`output ${i} (${role})`) });
  }
  const stdout = r.bytes("stdout");
  const stderr = r.bytes("stderr");
  r.end("entry");
  return { outputs, stdout, stderr, exitCode, compileMs, createdAt };
}

/** `key` is the manifest key the manifest is stored under. Written raw (version 5), in one buffer. */
export async function encodeManifest(m: Manifest, key: string): Promise<Buffer> {
  // The JSON of `{ entries }`, each entry's bytes as entryJson made them (the same bytes JSON.stringify gives for the whole).
  const parts: Buffer[] = [ENTRIES_OPEN];
  m.entries.forEach((e, i) => parts.push(...(i ? [COMMA] : []), entryJson(e)));
  parts.push(ENTRIES_CLOSE);
  const offset = HEADER_LENGTH + CRC_LENGTH;
  const length = parts.reduce((n, p) => n + p.length, 0);
  if (length > MAX_U32) throw new RangeError(`cannot encode ${length} bytes as a manifest`);
  const blob = Buffer.allocUnsafe(offset + 4 + length);
  blob.writeUInt32BE(length, offset);
  let at = offset + 4;
  for (const p of parts) at += p.copy(blob, at);
  writeHeader(blob, MANIFEST_MAGIC, MANIFEST_FORMAT_VERSION, keyBytes(key));
  blob.writeUInt32BE(crc32(blob.subarray(offset)), HEADER_LENGTH);
  return blob;
}

const ENTRIES_OPEN = Buffer.from('{"entries":[');
const COMMA = Buffer.from(",");
const ENTRIES_CLOSE = Buffer.from("]}");

/**
 * An entry's JSON bytes, kept per entry object (entries are never changed
 * once made): a manifest rewritten with one entry more encodes that one
 * alone, not every entry it held again (~75 files each for lua5.4).
 */
const encodedEntries = new WeakMap<ManifestEntry, Buffer>();

function entryJson(e: ManifestEntry): Buffer {
  let bytes = encodedEntries.get(e);
  if (!bytes) {
    bytes = Buffer.from(
      JSON.stringify({
        files: e.files.map((f) => ({ path: f.path, hash: f.hash, size: f.size, ...(f.text !== undefined ? { text: f.text } : {}) })),
        resultKey: e.resultKey,
        ...(e.date !== undefined ? { date: e.date } : {}),
        ...(e.env?.length ? { env: e.env.map((v) => ({ name: v.name, value: v.value })) } : {}),
        ...(e.root !== undefined ? { root: e.root } : {}),
        ...(e.absent?.length ? { absent: e.absent.map((g) => ({ dir: g.dir, id: g.id, names: g.names })) } : {}),
        ...(e.preprocessor ? { preprocessor: true } : {}),
      }),
      "utf8",
    );
    encodedEntries.set(e, bytes);
  }
  return bytes;
}

export async function decodeManifest(buf: Buffer, key: string): Promise<Manifest> {
  const r = new Reader(await unpack(MANIFEST_MAGIC, "manifest", key, buf));
  const json = r.bytes("manifest JSON");
  r.end("manifest");
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString("utf8"));
  } catch (err) {
    throw new CorruptEntryError(`manifest JSON does not parse: ${(err as Error).message}`);
  }
  return validateManifest(parsed);
}

function validateManifest(v: unknown): Manifest {
  const bad = (what: string): never => {
    throw new CorruptEntryError(`manifest: ${what}`);
  };
  if (!isObject(v) || !Array.isArray(v.entries)) return bad("no entries array");
  const entries = v.entries.map((e: unknown, i): ManifestEntry => {
    if (!isObject(e)) return bad(`entry ${i} is not an object`);
    if (typeof e.resultKey !== "string") return bad(`entry ${i} has no result key`);
    if (e.date !== undefined && typeof e.date !== "string") return bad(`entry ${i} has a non-string date`);
    if (!Array.isArray(e.files)) return bad(`entry ${i} has no files array`);
    const files = e.files.map((f: unknown, j) => {
      if (!isObject(f) || typeof f.path !== "string" || typeof f.hash !== "string" || typeof f.size !== "number" || (f.text !== undefined && typeof f.text !== "string")) {
        return bad(`entry ${i} file ${j} is malformed`);
      }
      return { path: f.path, hash: f.hash, size: f.size, ...(typeof f.text === "string" ? { text: f.text } : {}) };
    });
    if (e.env !== undefined && !Array.isArray(e.env)) return bad(`entry ${i} has a malformed env list`);
    const env = (e.env ?? []).map((v: unknown, j) => {
      if (!isObject(v) || typeof v.name !== "string" || (v.value !== null && typeof v.value !== "string")) return bad(`entry ${i} env ${j} is malformed`);
      return { name: v.name, value: v.value as string | null };
    });
    if (e.root !== undefined && typeof e.root !== "string") return bad(`entry ${i} has a non-string root`);
    if (e.absent !== undefined && !Array.isArray(e.absent)) return bad(`entry ${i} has a malformed absent list`);
    const absent = (e.absent ?? []).map((g: unknown, j): AbsentGuard => {
      const names = isObject(g) && Array.isArray(g.names) && g.names.every((n) => typeof n === "string") ? (g.names as string[]) : undefined;
      if (!isObject(g) || typeof g.dir !== "string" || typeof g.id !== "string" || !names) return bad(`entry ${i} absent ${j} is malformed`);
      return { dir: g.dir, id: g.id, names };
    });
    if (e.preprocessor !== undefined && e.preprocessor !== true) return bad(`entry ${i} has a malformed preprocessor flag`);
    return {
      files,
      resultKey: e.resultKey,
      ...(e.date === undefined ? {} : { date: e.date }),
      ...(env.length ? { env } : {}),
      ...(e.root === undefined ? {} : { root: e.root }),
      ...(absent.length ? { absent } : {}),
      ...(e.preprocessor ? { preprocessor: true } : {}),
    };
  });
  return { entries };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function keyBytes(key: string): Buffer {
  if (!KEY_PATTERN.test(key)) throw new RangeError(`cache keys are 64 lowercase hex digits, not ${JSON.stringify(key.slice(0, 80))}`);
  return Buffer.from(key, "hex");
}

async function pack(magic: string, key: string, body: Buffer): Promise<Buffer> {
  const bound = keyBytes(key);
  // Small bodies in this thread: handing them to the thread pool cost about twice the CPU (measured on 11 KB objects).
  const compressed = body.length <= SYNC_GZIP_MAX ? gzipSync(body, { level: GZIP_LEVEL }) : await gzip(body, { level: GZIP_LEVEL });
  const out = Buffer.allocUnsafe(HEADER_LENGTH + compressed.length);
  writeHeader(out, magic, formatVersion(magic), bound);
  compressed.copy(out, HEADER_LENGTH);
  return out;
}

function writeHeader(out: Buffer, magic: string, version: number, key: Buffer): void {
  out.write(magic, 0, "latin1");
  out.writeUInt32BE(version, 4);
  key.copy(out, 8);
}

async function unpack(magic: string, what: string, key: string, buf: Buffer): Promise<Buffer> {
  if (buf.length >= 8 && buf.toString("latin1", 0, 4) === magic && !readableVersion(magic, buf.readUInt32BE(4))) {
    throw new OutdatedEntryError(`${what} has format version ${buf.readUInt32BE(4)}, expected ${formatVersion(magic)}`);
  }
  const raw = buf.length >= 8 && buf.readUInt32BE(4) === (magic === ENTRY_MAGIC ? RAW_ENTRY_VERSION : MANIFEST_FORMAT_VERSION);
  if (buf.length < HEADER_LENGTH + (raw ? CRC_LENGTH : GZIP_HEADER_LENGTH + GZIP_TRAILER_LENGTH)) {
    throw new CorruptEntryError(`${what} is ${buf.length} bytes, too short to be one`);
  }
  if (buf.toString("latin1", 0, 4) !== magic) throw new CorruptEntryError(`${what} has the wrong magic bytes`);
  if (!buf.subarray(8, HEADER_LENGTH).equals(keyBytes(key))) {
    throw new EntryKeyMismatchError(`${what} stored under ${key.slice(0, 16)}… was written for ${buf.subarray(8, 16).toString("hex")}…`);
  }
  if (raw) {
    const body = buf.subarray(HEADER_LENGTH + CRC_LENGTH);
    if (crc32(body) !== buf.readUInt32BE(HEADER_LENGTH)) throw new CorruptEntryError(`${what} does not match its checksum`);
    return body;
  }
  const gz = buf.subarray(HEADER_LENGTH);
  if (!gz.subarray(0, GZIP_HEADER.length).equals(GZIP_HEADER)) throw new CorruptEntryError(`${what} has a damaged gzip header`);
  let body: Buffer;
  try {
    // The trailer's size (mod 2^32) as the output chunk: one chunk, so zlib need not join many
    // (a quarter of the time for a multi-MB rlib). A wrong size only costs chunks; the check below catches it.
    const stated = gz.readUInt32LE(gz.length - 4);
    const options = { chunkSize: Math.min(Math.max(stated + 1024, 16 * 1024), MAX_SINGLE_CHUNK) };
    // Inflating a small blob inline is far cheaper than a thread-pool round trip, and this is the hit path.
    body = gz.length <= SYNC_INFLATE_LIMIT ? gunzipSync(gz, options) : await gunzip(gz, options);
  } catch (err) {
    throw new CorruptEntryError(`${what} does not decompress: ${(err as Error).message}`);
  }
  // zlib silently ignores bytes after the gzip member; its trailer must be the blob's last 8 bytes.
  if (gz.readUInt32LE(gz.length - 4) !== body.length % 2 ** 32) {
    throw new CorruptEntryError(`${what} has bytes after its compressed data`);
  }
  return body;
}

/** Writes a body of exactly `size` bytes at `offset` of a new buffer (the bytes before it are the caller's to fill). */
class Writer {
  private readonly buf: Buffer;
  private pos: number;

  constructor(size: number, offset = 0) {
    this.buf = Buffer.allocUnsafe(offset + size);
    this.pos = offset;
  }

  f64(n: number): void {
    this.pos = this.buf.writeDoubleBE(n, this.pos);
  }

  u32(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > MAX_U32) throw new RangeError(`cannot encode ${n} as a cache entry length`);
    this.pos = this.buf.writeUInt32BE(n, this.pos);
  }

  bytes(data: Uint8Array): void {
    this.u32(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /** A length and room for `n` bytes the caller fills: the view of that room. */
  skip(n: number): Buffer {
    this.u32(n);
    const view = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return view;
  }

  finish(): Buffer {
    if (this.pos !== this.buf.length) throw new Error(`codec bug: wrote ${this.pos} of ${this.buf.length} bytes`);
    return this.buf;
  }
}

/** Reads sections as views into the decompressed body (no copies); any overrun is corruption. */
class Reader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) throw new CorruptEntryError(`truncated body: ${what} needs ${n} bytes, ${this.remaining} left`);
  }

  f64(what: string): number {
    this.need(8, what);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(what: string): Buffer {
    const len = this.u32(`${what} length`);
    this.need(len, what);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  end(what: string): void {
    if (this.remaining !== 0) throw new CorruptEntryError(`${what} body has ${this.remaining} unexpected trailing bytes`);
  }
}
