/**
 * The binary format of a hit-index entry, written by the daemon and read by
 * the native client (native/client-hits.inc.c, try_index_hit), which compiles the
 * same layout. All integers are big-endian; strings are NUL-terminated.
 *
 *   "RPXI" | u32 FORMAT | u64 FNV-1a 64 of everything after this field
 *   version\0 | u32 n, request payload (n bytes) | result file\0 | stats line\0
 *   u32 watched, each: u8 kind, path\0, then
 *       'F' (a file as stat() sees it): u64 dev, ino, size, i64 mtime ns, ctime ns
 *       'E' (the compiler executable the lookup found): u64 dev, ino, size,
 *            i64 mtime ns; no ctime, which every hard link made to it or
 *            removed moves (see watch-list.ts, watchCompilerLookup)
 *       'D' (a directory):              u64 dev, ino, u32 uid, u32 mode
 *       'A' (nothing there):            -
 *       'G' (a directory below which names must stay absent, see
 *            engine/absent-guards.ts): u64 dev, ino, i64 mtime ns, ctime ns
 *            (all 0: check the names every time), u32 n, n names\0; while
 *            the directory has that identity no name can have appeared,
 *            otherwise each must be absent (stat: ENOENT, ENOTDIR, or a directory)
 *   u32 outputs, each: path\0, blob path\0, u64 size, u8 executable; the output is
 *       the blob's first `size` bytes (a blob linked to a stored entry is longer)
 *   u32 n, stdout | u32 n, stderr | i32 exit code
 */
export const INDEX_MAGIC = "RPXI";
/** 2: 'G' items (absent-path guards); 3: 'E' items (the compiler found, without ctime). */
export const INDEX_FORMAT = 3;

export type WatchItem =
  | { kind: "file"; path: string; dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }
  | { kind: "executable"; path: string; dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint }
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

const KIND_BYTE = { file: 0x46, executable: 0x45, dir: 0x44, absent: 0x41, guard: 0x47 } as const;

/** Appends to one growing buffer: an entry watches hundreds of headers, and a Buffer per field cost more than the entry's write. */
class Writer {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
  str(s: string): this {
    if (s.includes("\0")) throw new Error("a NUL in an indexed string");
    this.room(Buffer.byteLength(s, "utf8") + 1);
    this.pos += this.buf.write(s, this.pos, "utf8");
    this.buf[this.pos++] = 0;
    return this;
  }
  u8(v: number): this {
    this.room(1);
    this.pos = this.buf.writeUInt8(v, this.pos);
    return this;
  }
  u32(v: number): this {
    this.room(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
    return this;
  }
  i32(v: number): this {
    this.room(4);
    this.pos = this.buf.writeInt32BE(v, this.pos);
    return this;
  }
  u64(v: bigint): this {
    this.room(8);
    this.pos = this.buf.writeBigUInt64BE(BigInt.asUintN(64, v), this.pos);
    return this;
  }
  bytes(b: Buffer): this {
    this.u32(b.length);
    this.room(b.length);
    this.pos += b.copy(this.buf, this.pos);
    return this;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export function encodeIndexEntry(e: IndexEntry): Buffer {
  const w = new Writer().str(e.version).bytes(e.request).str(e.resultFile).str(e.statsLine).u32(e.watched.length);
  for (const item of e.watched) {
    w.u8(KIND_BYTE[item.kind]).str(item.path);
    if (item.kind === "file") w.u64(item.dev).u64(item.ino).u64(item.size).u64(item.mtimeNs).u64(item.ctimeNs);
    else if (item.kind === "executable") w.u64(item.dev).u64(item.ino).u64(item.size).u64(item.mtimeNs);
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
  // Four 16-bit limbs: every product stays exact in integer arithmetic (BigInt per byte would cost ~100x more).
  // (v3:v2:v1:v0) * 0x100000001b3 mod 2^64 = (v3:v2:v1:v0) * 0x1b3 + ((v1:v0) << 40)
  let v0 = 0x2325;
  let v1 = 0x8422;
  let v2 = 0x9ce4;
  let v3 = 0xcbf2;
  for (let i = 0; i < data.length; i++) {
    v0 ^= data[i]!;
    const t0 = v0 * 0x1b3;
    const t1 = v1 * 0x1b3 + (t0 >>> 16);
    const t2 = v2 * 0x1b3 + (v0 << 8) + (t1 >>> 16);
    v3 = (v3 * 0x1b3 + (v1 << 8) + (t2 >>> 16)) & 0xffff;
    v0 = t0 & 0xffff;
    v1 = t1 & 0xffff;
    v2 = t2 & 0xffff;
  }
  // Through bytes, not `>>> 0`: an unsigned 32-bit result at or above 2^31 made V8 drop its optimized code ("lost
  // precision") on about every other call, and compile it again (56 times in 60 misses).
  const out = Buffer.allocUnsafe(8);
  out.writeUInt16BE(v3, 0);
  out.writeUInt16BE(v2, 2);
  out.writeUInt16BE(v1, 4);
  out.writeUInt16BE(v0, 6);
  return out.readBigUInt64BE(0);
}

/** The entry's file name in the index directory: the request's FNV-1a 64, as 16 hex digits. */
export function indexName(request: Buffer): string {
  return fnv1a64(request).toString(16).padStart(16, "0");
}
