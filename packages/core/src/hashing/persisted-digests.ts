import type { FileIdentity } from "./file-hash-cache.js";
import { PersistedRecords } from "../util/persisted-records.js";

/** Files at least this big are remembered across restarts (compilers, their libraries, std rlibs); smaller ones hash in no time. */
export const PERSISTED_MIN_BYTES = 1024 * 1024;

/** The stat identity's fields to the nanosecond, as decimal strings (JSON has no bigint). */
const IDENTITY_FIELDS = ["dev", "ino", "size", "mtimeNs", "ctimeNs"] as const;

type Persisted = { hash: string } & Record<(typeof IDENTITY_FIELDS)[number], string>;

/**
 * Content hashes of large files kept in the cache directory, so a fresh
 * daemon does not hash a toolchain again (~300 MB for Rust's). Keyed by path;
 * each record holds the stat identity (device, inode, size, mtime, ctime) it
 * was hashed at: any change to the file, including a replacement, makes it
 * useless. Stored as `PersistedRecords` are (private cache root, no links
 * followed, written by rename, checksummed).
 */
export class PersistedDigests {
  private readonly records: PersistedRecords<Persisted>;

  constructor(cacheRoot: string, onError: (err: Error) => void = () => undefined) {
    // Format 3: the records of PersistedRecords; a format-2 file is ignored (its files are hashed once again).
    this.records = new PersistedRecords(cacheRoot, { file: "file-digests.json", format: "reprise-digests-4", maxEntries: 4096, valid: isPersisted, onError });
  }

  lookup(path: string, id: FileIdentity): string | undefined {
    const e = this.records.get(path);
    if (!e || IDENTITY_FIELDS.some((k) => e[k] !== id[k].toString())) return undefined;
    return e.hash;
  }

  remember(path: string, id: FileIdentity, hash: string): void {
    this.records.set(path, { hash, dev: id.dev.toString(), ino: id.ino.toString(), size: id.size.toString(), mtimeNs: id.mtimeNs.toString(), ctimeNs: id.ctimeNs.toString() });
  }

  /** Writes what was remembered since the last save (also at daemon stop). */
  flush(): void {
    this.records.flush();
  }
}

function isPersisted(e: unknown): e is Persisted {
  const o = e as Record<string, unknown> | null;
  return (
    !!o &&
    typeof o.hash === "string" &&
    /^[0-9a-f]{16,128}$/.test(o.hash) &&
    IDENTITY_FIELDS.every((k) => typeof o[k] === "string" && /^[0-9]{1,30}$/.test(o[k] as string))
  );
}
