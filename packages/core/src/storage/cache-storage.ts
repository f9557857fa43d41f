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
  /** Backend-specific options from config. */
  options?: Record<string, unknown>;
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
}
