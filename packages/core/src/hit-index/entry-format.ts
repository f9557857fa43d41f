/**
 * The binary format of a hit-index entry, written by the daemon and read by
 * the native client (native/client-hits.inc.c, try_index_hit), which compiles the
 * same layout. All integers are big-endian; strings are NUL-terminated.
 *
 *   "RPXI" | u32 FORMAT | u64 FNV-1a 64 of everything after this field
 *   version\0 | u32 n, request payload (n bytes) | result file\0 | stats line\0
 *   u32 watched, each: u8 kind, path\0, then
 *       'F' (a file as stat() sees it): u64 dev, ino, size, i64 mtime ns, ctime ns
 *       'D' (a directory):              u64 dev, ino, u32 uid, u32 mode
 *       'A' (nothing there):            -
 *       'G' (a directory below which names must stay absent, see
 *            engine/absent-guards.ts): u64 dev, ino, i64 mtime ns, ctime ns
 *            (all 0: check the names every time), u32 n, n names\0; while
 *            the directory has that identity no name can have appeared,
 *            otherwise each must be absent (stat: ENOENT, ENOTDIR, or a directory)
 *   u32 outputs, each: path\0, blob path\0, u64 size, u8 executable
 *   u32 n, stdout | u32 n, stderr | i32 exit code
 */
export const INDEX_MAGIC = "RPXI";
/** 2: 'G' items (absent-path guards). */
export const INDEX_FORMAT = 2;

export type WatchItem =
  | { kind: "file"; path: string; dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }
  | { kind: "dir"; path: string; dev: bigint; ino: bigint; uid: number; mode: number }
  | { kind: "absent"; path: string }
  | { kind: "guard"; path: string; dev: bigint; ino: bigint; mtimeNs: bigint; ctimeNs: bigint; names: readonly string[] };

export interface IndexedOutput {
  path: string;
  blob: string;
  size: number;
  executable: boolean;
}

export interface IndexEntry {
  version: string;
  /** The Compile frame's payload, byte for byte: the client answers only a request identical to it. */
  request: Buffer;
  /** The stored result in the local cache: gone (evicted, cleared) means the entry is void. */
  resultFile: string;
  /** What the client appends to the hit log for the daemon to count (see hit-log.ts). */
  statsLine: string;
  watched: WatchItem[];
  outputs: IndexedOutput[];
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

const KIND_BYTE = { file: 0x46, dir: 0x44, absent: 0x41, guard: 0x47 } as const;

class Writer {
  private readonly parts: Buffer[] = [];
  str(s: string): this {
    if (s.includes("\0")) throw new Error("a NUL in an indexed string");
    this.parts.push(Buffer.from(`${s}\0`, "utf8"));
    return this;
  }
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v, 0);
    this.parts.push(b);
    return this;
  }
  i32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v, 0);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, v), 0);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer): this {
    this.u32(b.length);
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export function encodeIndexEntry(e: IndexEntry): Buffer {
  const w = new Writer().str(e.version).bytes(e.request).str(e.resultFile).str(e.statsLine).u32(e.watched.length);
  for (const item of e.watched) {
    w.u8(KIND_BYTE[item.kind]).str(item.path);
    if (item.kind === "file") w.u64(item.dev).u64(item.ino).u64(item.size).u64(item.mtimeNs).u64(item.ctimeNs);
    else if (item.kind === "dir") w.u64(item.dev).u64(item.ino).u32(item.uid).u32(item.mode);
    else if (item.kind === "guard") {
      w.u64(item.dev).u64(item.ino).u64(item.mtimeNs).u64(item.ctimeNs).u32(item.names.length);
      for (const n of item.names) w.str(n);
    }
  }
  w.u32(e.outputs.length);
  for (const o of e.outputs) w.str(o.path).str(o.blob).u64(BigInt(o.size)).u8(o.executable ? 1 : 0);
  w.bytes(e.stdout).bytes(e.stderr).i32(e.exitCode);
  const body = w.done();
  const head = Buffer.allocUnsafe(16);
  head.write(INDEX_MAGIC, 0, "latin1");
  head.writeUInt32BE(INDEX_FORMAT, 4);
  head.writeBigUInt64BE(fnv1a64(body), 8);
  return Buffer.concat([head, body]);
}

/** FNV-1a 64 of raw bytes (the entry's checksum and the request's file name; not for security). */
export function fnv1a64(data: Buffer): bigint {
  // Two 32-bit halves: BigInt arithmetic per byte would cost ~100x more on a large request.
  let hi = 0xcbf29ce4 >>> 0;
  let lo = 0x84222325 >>> 0;
  for (let i = 0; i < data.length; i++) {
    lo = (lo ^ data[i]!) >>> 0;
    // (hi:lo) * 0x100000001b3 mod 2^64 = (hi:lo) * 0x1b3 + (lo << 40)
    const loMul = lo * 0x1b3;
    const carry = Math.floor(loMul / 0x100000000);
    const newLo = loMul >>> 0;
    hi = (Math.imul(hi, 0x1b3) + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = newLo;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** The entry's file name in the index directory: the request's FNV-1a 64, as 16 hex digits. */
export function indexName(request: Buffer): string {
  return fnv1a64(request).toString(16).padStart(16, "0");
}
