import { statSync, type BigIntStats } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { LRUCache } from "lru-cache";
import { growingLru } from "../util/growing-lru.js";
import { hashBytes, StreamingHash } from "./key-hasher.js";
import { PERSISTED_MIN_BYTES, type PersistedDigests } from "./persisted-digests.js";
import { fileText, type FileText, type TextReading } from "./text-digest.js";
import type { PersistedTexts } from "./persisted-texts.js";
import { COARSE_WINDOW_MS, settledAt, settlesInMs, systemClock, timestampKind, type ChangeClock, type ReadMoment, type TimestampKind } from "./racy-window.js";
import { readRegularFileSync, SYNC_READ_MAX } from "../util/read-regular-sync.js";

export interface FileDigest {
  hash: string;
  size: number;
  /** Which of the requested tokens occur in the file. */
  tokens: string[];
  /** Its text digest, when one was asked for (a `TextReading`); remembered apart from the content-only digest. */
  text?: FileText;
}

/**
 * A file changed this recently (before the moment its content was read) may
 * change again within the same timestamp tick without its stat showing it
 * ("racy timestamps"). Two seconds covers coarse (1 s, 2 s) file systems and
 * clocks we cannot read; files hashed here are judged by the finer rule of
 * racy-window.ts where it holds.
 */
export const RACY_WINDOW_MS = COARSE_WINDOW_MS;

/** A file as stat() sees it, to the nanosecond (what the native client compares). */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/**
 * Content hashes of files, remembered with their (device, inode, size, mtime, ctime)
 * so an unchanged header is hashed once per daemon lifetime. A file that had
 * not settled (racy-window.ts) at the moment its content was read is never
 * remembered: its stat may not yet tell a later change in the same timestamp
 * tick apart (ccache's "mtime race"). The moment is taken before the read,
 * never after it: a delay between reading and checking must not let content
 * read while racy pass for settled.
 */
export class FileHashCache {
  /** By path (and the tokens looked for): the stat identity a digest is valid for. */
  private readonly cache: LRUCache<string, Remembered>;
  hits = 0;
  misses = 0;

  /** Bytes Reprise itself just wrote or read back, by path, until someone asks for their digest. */
  private readonly written = new LRUCache<string, Written>({ maxSize: WRITTEN_BYTES, sizeCalculation: (w) => Math.max(1, w.data.length) });

  /** Text digests by reading and content hash: a file's text is a function of its bytes, whichever file held them. */
  private readonly texts: LRUCache<string, FileText>;

  /** Where hashes of large files outlive the daemon (the cache directory); none by default. */
  private persisted: PersistedDigests | undefined;

  private readonly clock: ChangeClock;

  /** `clock`: the moments reads are judged from; a bare wall clock (tests) judges every file by the coarse rule alone. */
  constructor(maxEntries = 200_000, clock: ChangeClock | (() => number) = systemClock) {
    this.cache = growingLru(maxEntries);
    this.texts = growingLru(maxEntries);
    this.clock = typeof clock === "function" ? { wallMs: clock, moment: () => ({ wallMs: clock(), kernelNs: undefined }) } : clock;
  }

  /**
   * The text digest under `reading` of content whose digest is `hash`, when
   * this cache has read such content for its text (of any file): for a
   * digest taken elsewhere (a farm job's input), without a stat or a read.
   */
  knownText(hash: string, reading: TextReading): FileText | undefined {
    const known = this.texts.get(`${reading.id}\0${hash}`);
    if (known || reading.lastingId === undefined) return known;
    const kept = this.keptTexts?.lookup(reading.lastingId, hash);
    if (kept) this.texts.set(`${reading.id}\0${hash}`, kept);
    return kept;
  }

  /** Where text digests outlive the daemon, by content (the cache directory); none by default. */
  private keptTexts: PersistedTexts | undefined;

  /** Keeps text digests across daemon restarts in `store`. */
  persistTexts(store: PersistedTexts): void {
    this.keptTexts = store;
  }

  /** The wall clock of this cache's moments (no stamp). */
  private now(): number {
    return this.clock.wallMs();
  }

  /** Keeps the hashes of large files (toolchains) across daemon restarts in `store`. */
  persistLargeFiles(store: PersistedDigests): void {
    this.persisted = store;
  }

  /**
   * Remembers that `path` holds `data`, which Reprise has just written (a
   * restored output) or read back (a compile's output), so that a later
   * digest of the file — a restored library the next compile links, say —
   * hashes these bytes once instead of reading the file on every call. Unlike
   * a file hashed from disk it is remembered even though it is new: its
   * identity is taken right after the bytes were written, so only an in-place
   * rewrite of the same size within the same timestamp tick could pass.
   */
  rememberWritten(path: string, data: Buffer): void {
    // Only the wall clock: the write came before this moment, so a stamp now proves nothing about a rewrite since.
    const knownAt: ReadMoment = { wallMs: this.now(), kernelNs: undefined };
    const st = statOrUndefined(path);
    if (!st || st.size !== BigInt(data.length)) return;
    this.cache.delete(cacheKey(path, []));
    this.written.set(path, { ...identityOf(st), knownAt, data });
  }

  /**
   * The digest when the file is unchanged since it was last hashed, without
   * reading it; "unknown" when it must be read; undefined when it is gone.
   */
  known(path: string, tokens: readonly string[] = []): FileDigest | "unknown" | undefined {
    const st = statOrUndefined(path);
    if (!st) return undefined;
    const hit = this.lookup(path, st, tokens);
    if (hit) this.hits++;
    return hit ?? "unknown";
  }

  /**
   * The remembered digest of `path` with the identity its content was read
   * under, when the file had settled when that content was read
   * (racy-window.ts): while the file keeps that identity it holds that content.
   * Undefined otherwise (never hashed, or read while a same-tick change could
   * still pass unseen). Takes no stat: the identity is the digest's own.
   */
  vouched(path: string, tokens: readonly string[] = []): { digest: FileDigest; identity: FileIdentity } | undefined {
    const r = this.cache.get(cacheKey(path, tokens));
    if (!r || !settledAt(r, r.kind, r.knownAt)) return undefined;
    return { digest: r.digest, identity: { dev: r.dev, ino: r.ino, size: r.size, mtimeNs: r.mtimeNs, ctimeNs: r.ctimeNs } };
  }

  /**
   * Reads `path` again when its digest is not vouched for (not remembered, or
   * known only while the file was changing), so that once the file has
   * settled vouched() can answer for it. For work after the answer (a
   * hit-index entry tried again), never for a call.
   */
  async settle(path: string, tokens: readonly string[] = []): Promise<void> {
    if (this.vouched(path, tokens)) return;
    this.cache.delete(cacheKey(path, tokens));
    // Bytes Reprise wrote are known from their write, which is what was too recent.
    this.written.delete(path);
    await this.digest(path, tokens);
  }

  /**
   * The digest of `path` as a compile read it, without a stat: `read` is the
   * identity the compile took of the open file right after reading it
   * (`identityText`'s form). When
   * the content is remembered under that very identity, it is what the
   * compile read, provided nothing changed the file in the same timestamp
   * tick after the compile began: the caller checks `changedAt` against the
   * compile's start, as for a stat of its own. Undefined when not remembered
   * so (the caller hashes the file as usual).
   */
  knownAsRead(path: string, read: string, tokens: readonly string[] = [], reading?: TextReading): { digest: FileDigest; changedAt: number; coarse: boolean } | undefined {
    const r = this.cache.get(cacheKey(path, tokens, reading));
    if (!r || (r.text ??= identityText(r)) !== read) return undefined;
    this.hits++;
    return { digest: r.digest, changedAt: changedAtMs(r), coarse: coarseTimestamps(r) };
  }

  private lookup(path: string, st: BigIntStats, tokens: readonly string[], reading?: TextReading): FileDigest | undefined {
    const r = this.cache.get(cacheKey(path, tokens, reading));
    if (r && sameIdentity(r, st)) return r.digest;
    // Stale: vouched() must never answer with an identity the file no longer has (a file touched with the same bytes
    // would get a hit-index entry the client can never match).
    if (r) this.cache.delete(cacheKey(path, tokens, reading));
    if (reading) return undefined;
    const w = this.written.get(path);
    if (!w) return undefined;
    if (!sameIdentity(w, st)) {
      this.written.delete(path);
      return undefined;
    }
    const digest: FileDigest = { hash: hashBytes(w.data), size: w.data.length, tokens: tokens.filter((t) => w.data.includes(t)) };
    // Known since it was written, which is usually within the racy window: vouched() will not vouch for it.
    this.cache.set(cacheKey(path, tokens), { ...identityOf(st), knownAt: w.knownAt, kind: "coarse", digest });
    if (tokens.length === 0) this.written.delete(path);
    return digest;
  }

  /** Digest of `path`, or undefined if it cannot be read. */
  async digest(path: string, tokens: readonly string[] = [], reading?: TextReading): Promise<FileDigest | undefined> {
    return (await this.digestWithChangeTime(path, tokens, reading))?.digest;
  }

  /**
   * Digest of `path`, with the bytes it was computed from when this call read
   * the file whole (not remembered, not a large file read in chunks): a caller
   * that must keep a copy of the file (the input store) takes them instead of
   * reading and hashing the file a second time.
   */
  async digestAndBytes(path: string, tokens: readonly string[] = []): Promise<{ digest: FileDigest; data?: Buffer } | undefined> {
    let data: Buffer | undefined;
    const found = await this.digestWithChangeTime(path, tokens, undefined, (d) => (data = d));
    return found && { digest: found.digest, ...(data ? { data } : {}) };
  }

  /**
   * Digest of `path` with the time it last changed (the later of mtime and
   * ctime, as of the stat the digest is valid for), or undefined if it cannot
   * be read.
   */
  async digestWithChangeTime(
    path: string,
    tokens: readonly string[] = [],
    /** Also the file's text digest under this reading (kept apart: the file is read once more for it, once per content). */
    reading?: TextReading,
    /** Given the bytes the digest was computed from, when they were read whole for it. */
    onRead?: (data: Buffer) => void,
  ): Promise<{ digest: FileDigest; changedAt: number; coarse: boolean } | undefined> {
    // A synchronous stat costs microseconds; a promise-based one a thread-pool round trip.
    // On a hit every recorded header is stat'ed, so this is the hit path's main cost.
    const st = statOrUndefined(path);
    if (!st) return undefined;
    const misses = this.misses;
    const digest = await this.digestOf(path, st, tokens, reading, onRead);
    if (!digest) return undefined;
    if (this.misses === misses) return { digest, changedAt: changedAtMs(st), coarse: coarseTimestamps(st) };
    // Read just now: a change between the stat and the read must show, or new bytes would pass for old ones.
    const after = statOrUndefined(path);
    if (!after) return undefined;
    return { digest, changedAt: Math.max(changedAtMs(st), changedAtMs(after)), coarse: coarseTimestamps(st) || coarseTimestamps(after) };
  }

  private async digestOf(path: string, st: BigIntStats, tokens: readonly string[], reading?: TextReading, onRead?: (data: Buffer) => void): Promise<FileDigest | undefined> {
    const known = this.lookup(path, st, tokens, reading);
    if (known) {
      this.hits++;
      return known;
    }
    const big = this.persisted && tokens.length === 0 && !reading && st.size >= PERSISTED_MIN_BYTES;
    const stored = big ? this.persisted!.lookup(path, identityOf(st)) : undefined;
    if (stored) {
      this.hits++;
      const digest: FileDigest = { hash: stored, size: Number(st.size), tokens: [] };
      // Persisted only once settled (see below): a file still of that identity has held that content since.
      this.cache.set(cacheKey(path, tokens), { ...identityOf(st), knownAt: { wallMs: this.now(), kernelNs: undefined }, kind: "coarse", digest });
      return digest;
    }
    this.misses++;
    // Before the read: what matters is how settled the file was when its bytes were taken, not when this code resumes.
    const readAt = this.clock.moment();
    let digest: FileDigest;
    if (tokens.length === 0 && st.size >= PERSISTED_MIN_BYTES) {
      // A compiler binary is tens of MB: read in chunks, so the daemon's memory (and the cost of every fork it makes) does not grow by it.
      const streamed = await hashInChunks(path);
      if (!streamed) return undefined;
      digest = { hash: streamed.hash, size: streamed.size, tokens: [] };
    } else {
      const data = st.size <= SYNC_READ_MAX ? readRegularFileSync(path) : await readWhole(path);
      if (!data) return undefined;
      const hash = hashBytes(data);
      digest = { hash, size: data.length, tokens: tokens.filter((t) => data.includes(t)), ...(reading ? { text: this.textOf(data, hash, reading) } : {}) };
      onRead?.(data);
    }
    const after = statOrUndefined(path);
    const unchanged = after !== undefined && sameIdentity(identityOf(st), after) && BigInt(digest.size) === st.size;
    const kind = unchanged ? timestampKind(path, st.dev) : "coarse";
    if (unchanged && settledAt(st, kind, readAt)) {
      this.cache.set(cacheKey(path, tokens, reading), { ...identityOf(st), knownAt: readAt, kind, digest });
      // The content-only digest too: the hit index vouches for files by it (vouched()), and a lookup by content asks for it.
      if (reading) this.cache.set(cacheKey(path, tokens), { ...identityOf(st), knownAt: readAt, kind, digest: { hash: digest.hash, size: digest.size, tokens: digest.tokens } });
      if (big) this.persisted!.remember(path, identityOf(st), digest.hash);
    }
    return digest;
  }

  /**
   * How long to wait before files that could not be vouched for may be read
   * again and vouched for (the racy window of each, from its times now);
   * 0 when all of them already are.
   */
  settleDelayMs(files: readonly { path: string; tokens: readonly string[] }[]): number {
    let delay = 0;
    const now = this.now();
    for (const f of files) {
      if (this.vouched(f.path, f.tokens)) continue;
      const st = statOrUndefined(f.path);
      if (st) delay = Math.max(delay, settlesInMs(st, timestampKind(f.path, st.dev), now));
    }
    return delay;
  }

  clear(): void {
    this.cache.clear();
  }

  /** `data`'s text digest under `reading`: kept by content across daemons when the reading has a lasting id. */
  private textOf(data: Buffer, hash: string, reading: TextReading): FileText {
    const kept = this.knownText(hash, reading);
    if (kept) return kept;
    const text = fileText(data, reading);
    this.texts.set(`${reading.id}\0${hash}`, text);
    if (reading.lastingId !== undefined) this.keptTexts?.remember(reading.lastingId, hash, text);
    return text;
  }
}

function statOrUndefined(path: string): BigIntStats | undefined {
  try {
    // To the nanosecond, as the native client compares; costs no more than a plain stat.
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    return st?.isFile() ? st : undefined;
  } catch {
    return undefined;
  }
}

interface Remembered extends FileIdentity {
  readonly digest: FileDigest;
  /** `identityText` of it, once asked for. */
  text?: string;
  /** The moment the content was known at: taken before it was read, or when Reprise wrote it (wall clock only). */
  readonly knownAt: ReadMoment;
  /** The times its file system keeps (racy-window.ts). */
  readonly kind: TimestampKind;
}

function cacheKey(path: string, tokens: readonly string[], reading?: TextReading): string {
  const key = tokens.length ? `${path}\0${tokens.join(",")}` : path;
  return reading ? `${key}\0text\0${reading.id}` : key;
}

/** Up to this many bytes of written files wait for a digest; beyond it the oldest are read from disk when asked. */
const WRITTEN_BYTES = 256 * 1024 * 1024;

interface Written extends FileIdentity {
  readonly data: Buffer;
  readonly knownAt: ReadMoment;
}

function identityOf(st: BigIntStats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** "DEV INO SIZE MTIME_NS CTIME_NS" in decimal: a compile's `ReadIdentity`. */
export function identityText(id: FileIdentity): string {
  return `${id.dev} ${id.ino} ${id.size} ${id.mtimeNs} ${id.ctimeNs}`;
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** The later of mtime and ctime, in ms (ctime moves on every change, mtime can be set back). */
function changedAtMs(id: FileIdentity): number {
  return Number(id.mtimeNs > id.ctimeNs ? id.mtimeNs : id.ctimeNs) / 1e6;
}

/** Whole-second timestamps: a file system that keeps no finer time (a change may carry a time up to a second earlier than it happened). */
function coarseTimestamps(id: FileIdentity): boolean {
  return id.mtimeNs % 1_000_000_000n === 0n && id.ctimeNs % 1_000_000_000n === 0n;
}

/** The same hash as `hashBytes` of the whole file, read 1 MiB at a time. */
async function hashInChunks(path: string): Promise<{ hash: string; size: number } | undefined> {
  let handle;
  try {
    handle = await open(path, "r");
    const hasher = new StreamingHash();
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      hasher.update(chunk.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { hash: hasher.digest(), size };
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

async function readWhole(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch {
    return undefined;
  }
}
