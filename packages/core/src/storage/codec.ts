import { promisify } from "node:util";
import { gunzip as gunzipCb, gunzipSync, gzip as gzipCb, gzipSync } from "node:zlib";
import { CorruptEntryError, EntryKeyMismatchError, OutdatedEntryError } from "../util/errors.js";

/**
 * Cache entries and manifests as bytes.
 *
 * Blob = 40-byte header (4-byte magic, u32 BE format version, the 32 bytes of
 * the key the blob is stored under), then one gzip member of the body. The
 * key binds a blob to its place: one copied, linked or moved under another
 * key is refused before it is inflated. Integrity: zlib checks the gzip CRC32 and length while
 * inflating; on top of that the header, the gzip framing around the member and
 * the exact length of every body section are verified, so anything short, long
 * or altered throws CorruptEntryError.
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
const MANIFEST_MAGIC = "RPRm";
/** 2: the key in the header. Older blobs are misses (OutdatedEntryError), not errors. */
const FORMAT_VERSION = 2;
/**
 * 3: entries name the paths that must stay absent (`absent`); a manifest without them would be trusted wrongly.
 * 4: files may carry their text digest (`text`). Version 3 manifests are still read (their files have none).
 */
const MANIFEST_FORMAT_VERSION = 4;
const MANIFEST_VERSIONS_READ = new Set([3, 4]);

function formatVersion(magic: string): number {
  return magic === MANIFEST_MAGIC ? MANIFEST_FORMAT_VERSION : FORMAT_VERSION;
}

function readsVersion(magic: string, version: number): boolean {
  return magic === MANIFEST_MAGIC ? MANIFEST_VERSIONS_READ.has(version) : version === FORMAT_VERSION;
}
const KEY_BYTES = 32;
const KEY_PATTERN = /^[0-9a-f]{64}$/;
const HEADER_LENGTH = 8 + KEY_BYTES;
const GZIP_LEVEL = 3;
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

/** `key` is the result key the entry is stored under (64 hex digits). */
export async function encodeEntry(e: CacheEntry, key: string): Promise<Buffer> {
  const roles = e.outputs.map((o) => Buffer.from(o.role, "utf8"));
  let size = 3 * 8 + 4 + 4 + e.stdout.length + 4 + e.stderr.length;
  for (let i = 0; i < roles.length; i++) size += 4 + roles[i]!.length + 4 + e.outputs[i]!.data.length;

  const w = new Writer(size);
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
  return pack(ENTRY_MAGIC, key, w.finish());
}

/**
 * The same stored entry bound to another key: the compressed body is kept,
 * only the header's key changes (compressing it again cost as much as the
 * first time). Undefined when `blob` is not an entry of this format written
 * for `fromKey`.
 */
export function rekeyEntry(blob: Buffer, fromKey: string, toKey: string): Buffer | undefined {
  if (blob.length < HEADER_LENGTH || blob.toString("latin1", 0, 4) !== ENTRY_MAGIC || blob.readUInt32BE(4) !== FORMAT_VERSION) return undefined;
  if (!blob.subarray(8, HEADER_LENGTH).equals(keyBytes(fromKey))) return undefined;
  const out = Buffer.from(blob);
  keyBytes(toKey).copy(out, 8);
  return out;
}

/** Throws EntryKeyMismatchError when the blob was written for another key than `key`. */
export async function decodeEntry(buf: Buffer, key: string): Promise<CacheEntry> {
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

/** `key` is the manifest key the manifest is stored under. */
export async function encodeManifest(m: Manifest, key: string): Promise<Buffer> {
  const json = Buffer.from(
    JSON.stringify({
      entries: m.entries.map((e) => ({
        files: e.files.map((f) => ({ path: f.path, hash: f.hash, size: f.size, ...(f.text !== undefined ? { text: f.text } : {}) })),
        resultKey: e.resultKey,
        ...(e.date !== undefined ? { date: e.date } : {}),
        ...(e.env?.length ? { env: e.env.map((v) => ({ name: v.name, value: v.value })) } : {}),
        ...(e.root !== undefined ? { root: e.root } : {}),
        ...(e.absent?.length ? { absent: e.absent.map((g) => ({ dir: g.dir, id: g.id, names: g.names })) } : {}),
        ...(e.preprocessor ? { preprocessor: true } : {}),
      })),
    }),
    "utf8",
  );
  const w = new Writer(4 + json.length);
  w.bytes(json);
  return pack(MANIFEST_MAGIC, key, w.finish());
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
  out.write(magic, 0, "latin1");
  out.writeUInt32BE(formatVersion(magic), 4);
  bound.copy(out, 8);
  compressed.copy(out, HEADER_LENGTH);
  return out;
}

async function unpack(magic: string, what: string, key: string, buf: Buffer): Promise<Buffer> {
  if (buf.length >= 8 && buf.toString("latin1", 0, 4) === magic && !readsVersion(magic, buf.readUInt32BE(4))) {
    throw new OutdatedEntryError(`${what} has format version ${buf.readUInt32BE(4)}, expected ${formatVersion(magic)}`);
  }
  if (buf.length < HEADER_LENGTH + GZIP_HEADER_LENGTH + GZIP_TRAILER_LENGTH) {
    throw new CorruptEntryError(`${what} is ${buf.length} bytes, too short to be one`);
  }
  if (buf.toString("latin1", 0, 4) !== magic) throw new CorruptEntryError(`${what} has the wrong magic bytes`);
  if (!buf.subarray(8, HEADER_LENGTH).equals(keyBytes(key))) {
    throw new EntryKeyMismatchError(`${what} stored under ${key.slice(0, 16)}… was written for ${buf.subarray(8, 16).toString("hex")}…`);
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

class Writer {
  private readonly buf: Buffer;
  private pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
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
