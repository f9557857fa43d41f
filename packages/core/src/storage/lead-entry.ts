import { closeSync, openSync, readSync } from "node:fs";
import { crc32 } from "node:zlib";
import { CorruptEntryError, EntryKeyMismatchError } from "../util/errors.js";
import type { CacheEntry } from "./codec.js";

/**
 * Entry format 4 ("lead"): the entry's largest output first, as is, then the
 * rest of the entry, then a fixed footer. The largest output can so be put
 * in place by the kernel (`fs.copyFile`: copy_file_range, or a reflink where
 * the file system shares blocks) without passing through the daemon's
 * memory; only the CRC needs its bytes, read back in small chunks from the
 * copy (never from the compile's output, which the build may rewrite).
 *
 *   lead output bytes (N)
 *   body: f64 exitCode, f64 compileMs, f64 createdAt, u32 leadIndex,
 *         u32 outputCount, per output u32 roleLen, role, u32 dataLen, data
 *         (the lead output's dataLen is N and its data is not repeated),
 *         u32 stdoutLen, stdout, u32 stderrLen, stderr
 *   footer (48 bytes): u32 CRC-32 of lead bytes + body, u32 body length,
 *         32-byte key, u32 version (4), magic "RPRt"
 *
 * All integers big-endian. A reader finds the format by the footer's magic
 * (format 2 and 3 blobs start with "RPRe"); every length must add up to the
 * blob's size and the CRC must match, so a short, long or altered blob is
 * refused. Daemons before this format find no "RPRe" at the start and drop
 * such a blob as corrupt (a miss).
 */
export const LEAD_ENTRY_VERSION = 4;
const LEAD_MAGIC = "RPRt";
const KEY_BYTES = 32;
export const LEAD_FOOTER_LENGTH = 4 + 4 + KEY_BYTES + 4 + 4;
/** Chunk in which the copied lead output is read back for its CRC. */
const CRC_CHUNK = 256 * 1024;
const MAX_U32 = 0xffff_ffff;
const KEY_PATTERN = /^[0-9a-f]{64}$/;

function keyBytes(key: string): Buffer {
  if (!KEY_PATTERN.test(key)) throw new RangeError(`cache keys are 64 lowercase hex digits, not ${JSON.stringify(key.slice(0, 80))}`);
  return Buffer.from(key, "hex");
}

/** Whether `buf` ends like a format-4 entry (checked fully by `decodeLeadEntry`). */
export function isLeadEntry(buf: Buffer): boolean {
  return buf.length >= LEAD_FOOTER_LENGTH && buf.toString("latin1", buf.length - 4) === LEAD_MAGIC;
}

/** The CRC-32 of the first `size` bytes of the file at `path`, read in small chunks; undefined when it holds fewer. */
export function crc32OfFile(path: string, size: number): number | undefined {
  const fd = openSync(path, "r");
  try {
    const chunk = Buffer.allocUnsafe(Math.min(CRC_CHUNK, Math.max(size, 1)));
    let crc = 0;
    let done = 0;
    while (done < size) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - done), done);
      if (n === 0) return undefined;
      crc = crc32(chunk.subarray(0, n), crc);
      done += n;
    }
    return crc;
  } finally {
    closeSync(fd);
  }
}

/**
 * What follows the lead output's `leadSize` bytes (whose CRC-32 is `leadCrc`)
 * in a format-4 blob of `entry` stored under `key`. `entry.outputs[leadIndex].data`
 * is not read: the lead's bytes are already in the blob.
 */
export function leadEntryTail(entry: CacheEntry, leadIndex: number, leadSize: number, leadCrc: number, key: string): Buffer {
  if (leadIndex < 0 || leadIndex >= entry.outputs.length) throw new RangeError(`lead output ${leadIndex} of ${entry.outputs.length}`);
  const roles = entry.outputs.map((o) => Buffer.from(o.role, "utf8"));
  let size = 3 * 8 + 4 + 4 + 4 + entry.stdout.length + 4 + entry.stderr.length;
  entry.outputs.forEach((o, i) => (size += 4 + roles[i]!.length + 4 + (i === leadIndex ? 0 : o.data.length)));
  const out = Buffer.allocUnsafe(size + LEAD_FOOTER_LENGTH);
  let pos = 0;
  const u32 = (n: number) => {
    if (!Number.isInteger(n) || n < 0 || n > MAX_U32) throw new RangeError(`cannot encode ${n} as a cache entry length`);
    pos = out.writeUInt32BE(n, pos);
  };
  const bytes = (b: Uint8Array) => {
    u32(b.length);
    out.set(b, pos);
    pos += b.length;
  };
  pos = out.writeDoubleBE(entry.exitCode, pos);
  pos = out.writeDoubleBE(entry.compileMs, pos);
  pos = out.writeDoubleBE(entry.createdAt, pos);
  u32(leadIndex);
  u32(entry.outputs.length);
  entry.outputs.forEach((o, i) => {
    bytes(roles[i]!);
    if (i === leadIndex) u32(leadSize);
    else bytes(o.data);
  });
  bytes(entry.stdout);
  bytes(entry.stderr);
  if (pos !== size) throw new Error(`codec bug: wrote ${pos} of ${size} bytes`);
  pos = out.writeUInt32BE(crc32(out.subarray(0, size), leadCrc), pos);
  pos = out.writeUInt32BE(size, pos);
  keyBytes(key).copy(out, pos);
  pos += KEY_BYTES;
  pos = out.writeUInt32BE(LEAD_ENTRY_VERSION, pos);
  out.write(LEAD_MAGIC, pos, "latin1");
  return out;
}

/** The CRC-32 a format-4 blob's footer holds (`end`: the blob, or its end as `leadEntryTail` made it). */
export function leadEntryCrc(end: Buffer): number {
  return end.readUInt32BE(end.length - LEAD_FOOTER_LENGTH);
}

/** The whole format-4 blob of `entry` in memory (tests, and re-encoding); `leadIndex` is written first. */
export function encodeLeadEntry(entry: CacheEntry, leadIndex: number, key: string): Buffer {
  const lead = entry.outputs[leadIndex]!.data;
  return Buffer.concat([lead, leadEntryTail(entry, leadIndex, lead.length, crc32(lead), key)]);
}

/** The same blob bound to `toKey` (only the footer's key changes); undefined unless it is a format-4 blob for `fromKey`. */
export function rekeyLeadEntry(blob: Buffer, fromKey: string, toKey: string): Buffer | undefined {
  if (!isLeadEntry(blob)) return undefined;
  const at = blob.length - 8 - KEY_BYTES;
  if (!blob.subarray(at, at + KEY_BYTES).equals(keyBytes(fromKey))) return undefined;
  const out = Buffer.from(blob);
  keyBytes(toKey).copy(out, at);
  return out;
}

/** Decodes a format-4 blob (views into `buf`); throws CorruptEntryError or EntryKeyMismatchError. */
export function decodeLeadEntry(buf: Buffer, key: string): CacheEntry {
  if (!isLeadEntry(buf)) throw new CorruptEntryError("entry has no footer");
  const footer = checkFooter(buf.subarray(buf.length - LEAD_FOOTER_LENGTH), buf.length, key);
  const leadSize = buf.length - LEAD_FOOTER_LENGTH - footer.bodyLength;
  if (crc32(buf.subarray(0, buf.length - LEAD_FOOTER_LENGTH)) !== footer.crc) throw new CorruptEntryError("entry does not match its checksum");
  return parseLeadBody(buf.subarray(leadSize, buf.length - LEAD_FOOTER_LENGTH), buf.subarray(0, leadSize)).entry;
}

/**
 * A format-4 entry read but for its lead output's bytes (a hit that puts the
 * lead in place by a kernel copy, engine/lead-copy.ts). `entry`'s lead output
 * has no data; nothing here is verified until `crc32(body, crc of the lead's
 * bytes)` equals `crc`.
 */
export interface LeadTail {
  entry: CacheEntry;
  leadIndex: number;
  leadSize: number;
  /** The body as stored (what the CRC covers after the lead's bytes). */
  body: Buffer;
  /** The footer's CRC-32 of the lead's bytes and the body. */
  crc: number;
}

/**
 * Reads the footer and body of a format-4 blob of `size` bytes through
 * `read(position, length)`; undefined when the blob is not one (format 2 or 3).
 * Throws CorruptEntryError or EntryKeyMismatchError as `decodeLeadEntry` does.
 */
export function readLeadTail(read: (position: number, length: number) => Buffer, size: number, key: string): LeadTail | undefined {
  if (size < LEAD_FOOTER_LENGTH) return undefined;
  const footerBytes = read(size - LEAD_FOOTER_LENGTH, LEAD_FOOTER_LENGTH);
  if (footerBytes.length !== LEAD_FOOTER_LENGTH) throw new CorruptEntryError("entry is shorter than it was");
  if (!isLeadEntry(footerBytes)) return undefined;
  const footer = checkFooter(footerBytes, size, key);
  const leadSize = size - LEAD_FOOTER_LENGTH - footer.bodyLength;
  const body = read(leadSize, footer.bodyLength);
  if (body.length !== footer.bodyLength) throw new CorruptEntryError("entry is shorter than it was");
  const parsed = parseLeadBody(body, undefined, leadSize);
  return { entry: parsed.entry, leadIndex: parsed.leadIndex, leadSize, body, crc: footer.crc };
}

/** The footer's CRC and body length, once its version and key are checked (`footer`: its 48 bytes, of a `size`-byte blob). */
function checkFooter(footer: Buffer, size: number, key: string): { crc: number; bodyLength: number } {
  const version = footer.readUInt32BE(LEAD_FOOTER_LENGTH - 8);
  if (version !== LEAD_ENTRY_VERSION) throw new CorruptEntryError(`entry footer has format version ${version}`);
  const keyAt = LEAD_FOOTER_LENGTH - 8 - KEY_BYTES;
  if (!footer.subarray(keyAt, keyAt + KEY_BYTES).equals(keyBytes(key))) {
    throw new EntryKeyMismatchError(`entry stored under ${key.slice(0, 16)}… was written for ${footer.subarray(keyAt, keyAt + 8).toString("hex")}…`);
  }
  const bodyLength = footer.readUInt32BE(4);
  if (bodyLength > size - LEAD_FOOTER_LENGTH) throw new CorruptEntryError(`entry claims a ${bodyLength}-byte body in ${size - LEAD_FOOTER_LENGTH} bytes`);
  return { crc: footer.readUInt32BE(0), bodyLength };
}

/** The entry in `body`; its lead output's data is `lead`, or empty when the lead is not in memory (then it must be `leadSize` bytes long). */
function parseLeadBody(body: Buffer, lead: Buffer | undefined, leadSize = lead?.length ?? 0): { entry: CacheEntry; leadIndex: number } {
  let pos = 0;
  const need = (n: number, what: string) => {
    if (n > body.length - pos) throw new CorruptEntryError(`truncated body: ${what} needs ${n} bytes, ${body.length - pos} left`);
  };
  const u32 = (what: string) => {
    need(4, what);
    const v = body.readUInt32BE(pos);
    pos += 4;
    return v;
  };
  const f64 = (what: string) => {
    need(8, what);
    const v = body.readDoubleBE(pos);
    pos += 8;
    return v;
  };
  const bytes = (what: string) => {
    const n = u32(`${what} length`);
    need(n, what);
    const v = body.subarray(pos, pos + n);
    pos += n;
    return v;
  };
  const exitCode = f64("exit code");
  const compileMs = f64("compile time");
  const createdAt = f64("creation time");
  const leadIndex = u32("lead index");
  const count = u32("output count");
  if (leadIndex >= count || count * 8 > body.length - pos) throw new CorruptEntryError(`entry claims ${count} outputs (lead ${leadIndex}) in ${body.length - pos} bytes`);
  const outputs: CacheEntry["outputs"] = [];
  for (let i = 0; i < count; i++) {
    const role = bytes(`output ${i} role`).toString("utf8");
    if (i !== leadIndex) {
      outputs.push({ role, data: bytes(`output ${i} (${role})`) });
      continue;
    }
    if (u32(`output ${i} length`) !== leadSize) throw new CorruptEntryError(`lead output ${role} is not ${leadSize} bytes`);
    outputs.push({ role, data: lead ?? Buffer.alloc(0) });
  }
  const stdout = bytes("stdout");
  const stderr = bytes("stderr");
  if (pos !== body.length) throw new CorruptEntryError(`entry body has ${body.length - pos} unexpected trailing bytes`);
  return { entry: { outputs, stdout, stderr, exitCode, compileMs, createdAt }, leadIndex };
}
