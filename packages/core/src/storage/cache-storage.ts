/**
 * The interface every cache backend implements. Backends store opaque blobs:
 * encoding, compression and integrity checks happen above them (storage/codec.ts),
 * so a remote backend is only a blob store.
 */
export type BlobKind = "result" | "manifest";

export interface StorageSettings {
  /** Backend name; "local" is built into core. */
  kind: string;
  /** Cache directory (local backend). */
  dir: string;
  /** Size limit in bytes; least recently used entries are evicted past it. */
  maxSizeBytes: number;
  /** Backend-specific options from config (or from the backend's `REPRISE_*` variables). */
  options?: Record<string, unknown>;
  /**
   * Bounds for a remote backend's network calls; a backend should pass them
   * to its client. The levels layer enforces `requestMs` on every call anyway.
   */
  timeouts?: StorageTimeouts;
}

export interface StorageTimeouts {
  /** Most milliseconds to wait for a connection. */
  connectMs: number;
  /** Most milliseconds one read, write or remove may take, connection included. */
  requestMs: number;
}

export interface StorageUsage {
  sizeBytes: number;
  entries: number;
  maxSizeBytes: number;
}

export interface CacheStorage {
  readonly kind: string;
  /** Human description for stats, e.g. the directory. */
  readonly location: string;
  /** The blob, or undefined when absent. Reading counts as use for eviction. */
  read(kind: BlobKind, key: string): Promise<Buffer | undefined>;
  /** Stores atomically: readers see the old blob or the whole new one, never a part. */
  write(kind: BlobKind, key: string, data: Buffer): Promise<void>;
  /** Removes a blob (e.g. one that failed its integrity check). Absent is not an error. */
  remove(kind: BlobKind, key: string): Promise<void>;
  usage(): Promise<StorageUsage>;
  /** Removes every blob. */
  clear(): Promise<void>;
  /** Flushes pending bookkeeping; called when the daemon stops. */
  close(): Promise<void>;
  /**
   * For a storage made of levels: the blob of each level below the first, in
   * order (each checked; absent and failing levels are passed over). Direct
   * mode asks when the first level's manifest has no matching entry, since
   * another machine may have recorded one that matches.
   */
  readLower?(kind: BlobKind, key: string): AsyncIterable<{ level: number; data: Buffer }>;
  /** For a storage made of levels: writes to the writable levels above `level`, in the background. */
  writeAbove?(level: number, kind: BlobKind, key: string, data: Buffer): void;
  /** For a storage made of levels: writes to the first level only (a blob that only helps this machine, such as the direct-mode fallback's copy). */
  writeFirst?(kind: BlobKind, key: string, data: Buffer): Promise<void>;
  /** For a storage made of levels: reads the first level only (where `writeFirst` put it). */
  readFirst?(kind: BlobKind, key: string): Promise<Buffer | undefined>;
  /**
   * The file holding a blob on this machine's disk, for a storage that keeps
   * one there (the hit index voids an entry whose result file is gone).
   */
  localFile?(kind: BlobKind, key: string): string | undefined;
  /**
   * For a storage that keeps blobs as files on this machine and writes them
   * nowhere else: a new blob begun as a copy of the file `source`, made by the
   * kernel (`fs.copyFile`: copy_file_range, a reflink where the file system
   * shares blocks), so its bytes never pass through this process. Never a
   * link to `source`: a later write to it leaves the copy as it was.
   * Undefined when this storage cannot, or `source` changed while copied.
   */
  beginCopy?(kind: BlobKind, source: string): StagedBlob | undefined;
  /**
   * For a storage that keeps blobs as files on this machine: the blob stored
   * under `key` opened for reading in parts and for a kernel copy (a hit of a
   * large entry then never holds its largest output in memory). Counts as a
   * read for eviction, as `read` does. Undefined when absent here (a storage
   * made of levels: in the first level); `read` is then asked as always. The
   * bytes are unchecked: the caller verifies them as it would `read`'s.
   */
  openLocal?(kind: BlobKind, key: string): LocalBlob | undefined;
  /** Per-level counters, for a storage made of levels (see storage/levels/). */
  levelStats?(): LevelStatsSnapshot[];
  /** Sets per-level counters back to zero (`--zero-stats`). */
  resetLevelStats?(): void;
}

/** A blob opened by `openLocal`: one file, kept open until `close`, so every part read and copied is of the same blob. */
export interface LocalBlob {
  /** Bytes in the blob. */
  readonly size: number;
  /** `length` bytes from `position` (fewer only when the blob ends first). */
  read(position: number, length: number): Buffer;
  /**
   * The whole blob copied by the kernel (copy_file_range, or a reflink where
   * the file system shares blocks) into `dest`, a new file created
   * exclusively (an existing one is an error). Returns the bytes copied.
   */
  copyTo(dest: string): number;
  /**
   * A new hard link at `dest` (created exclusively) to the very file opened,
   * when it can be one: a private file of this user's (no access for group
   * or others), on the same file system, and `dest` shown to be that file
   * (device and inode of the open file) once made. Nothing is left at `dest`
   * otherwise. Where a stored blob is never written in place (it is replaced
   * by rename), the link holds its bytes for as long as it exists.
   */
  linkTo?(dest: string): boolean;
  /**
   * The open file's identity (device, inode, size, change and modification
   * times): equal only while the file is the same one, not written since.
   */
  identity?(): string;
  close(): void;
}

/** A blob begun by `beginCopy`: finished (stored under a key) or discarded, once. */
export interface StagedBlob {
  /** The private file holding the copy, to read (never to write). */
  readonly path: string;
  /** Bytes copied. */
  readonly size: number;
  /** Appends `tail` and stores the blob under `key`, atomically as `write` does. */
  finish(key: string, tail: Buffer): Promise<void>;
  /** Removes the copy. */
  discard(): void;
}

/** Counters of one cache level since the daemon started (or `--zero-stats`). */
export interface LevelStatsSnapshot {
  /** Position in the level list, 0 = asked first. */
  level: number;
  kind: string;
  location: string;
  readOnly: boolean;
  /** "closed" (in use), "open" (skipped after failures), "half-open" (being tried again), "unavailable" (could not be created). */
  state: "closed" | "open" | "half-open" | "unavailable";
  /** Why the level could not be created, when `state` is "unavailable". */
  reason?: string;
  hits: number;
  misses: number;
  /** Failed, timed-out or skipped (breaker open) calls. */
  errors: number;
  /** Blobs read from this level that failed their integrity check (treated as misses). */
  corrupt: number;
  /** Blobs the backend refused for their size (e.g. memcached's item limit). */
  skippedTooLarge: number;
  writes: number;
  /** Hits of a lower level copied into this one. */
  writeBacks: number;
  bytesRead: number;
  bytesWritten: number;
  /** Milliseconds per call over the recent calls (reads and writes), or null before any. */
  latencyMedianMs: number | null;
  latencyP99Ms: number | null;
}
