import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { hashBytes } from "./key-hasher.js";
import type { FileIdentity } from "./file-hash-cache.js";
import { CREATE_NEW_FLAGS, readPrivate } from "../util/private-file.js";
import { ensurePrivateCacheDir } from "../storage/cache-root.js";

/** Files at least this big are remembered across restarts (compilers, their libraries, std rlibs); smaller ones hash in no time. */
export const PERSISTED_MIN_BYTES = 1024 * 1024;
const MAX_ENTRIES = 4096;
const FORMAT = "reprise-digests-2";
const FILE_NAME = "file-digests.json";
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** The stat identity's fields to the nanosecond, as decimal strings (JSON has no bigint). */
const IDENTITY_FIELDS = ["dev", "ino", "size", "mtimeNs", "ctimeNs"] as const;

type Persisted = { path: string; hash: string } & Record<(typeof IDENTITY_FIELDS)[number], string>;

/**
 * Content hashes of large files kept in the cache directory, so a fresh
 * daemon does not hash a toolchain again (~300 MB for Rust's). Keyed by path
 * and stat identity (device, inode, size, mtime, ctime): any change to the
 * file, including a replacement, makes its entry useless. The file lives in
 * the private cache root (checked as every cache access is), is opened
 * without following links, written to a new file renamed over it, and
 * carries a checksum of its entries: a damaged or foreign file is ignored.
 */
export class PersistedDigests {
  private entries: Map<string, Persisted> | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private dirty = false;

  constructor(
    private readonly cacheRoot: string,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  lookup(path: string, id: FileIdentity): string | undefined {
    const e = this.load().get(path);
    if (!e || IDENTITY_FIELDS.some((k) => e[k] !== id[k].toString())) return undefined;
    return e.hash;
  }

  remember(path: string, id: FileIdentity, hash: string): void {
    const entries = this.load();
    entries.delete(path);
    entries.set(path, { path, hash, dev: id.dev.toString(), ino: id.ino.toString(), size: id.size.toString(), mtimeNs: id.mtimeNs.toString(), ctimeNs: id.ctimeNs.toString() });
    while (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    this.dirty = true;
    this.saveTimer ??= setTimeout(() => this.flush(), 200).unref();
  }

  /** Writes what was remembered since the last save (also at daemon stop). */
  flush(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.entries || !this.dirty) return;
    this.dirty = false;
    try {
      if (!ensurePrivateCacheDir(this.cacheRoot, true, true)) return;
      const list = [...this.entries.values()];
      const text = JSON.stringify({ format: FORMAT, check: checksum(list), entries: list });
      const file = join(this.cacheRoot, FILE_NAME);
      const temp = `${file}.${process.pid}.tmp`;
      rmSync(temp, { force: true });
      const fd = openSync(temp, CREATE_NEW_FLAGS, 0o600);
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, file);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  private load(): Map<string, Persisted> {
    if (this.entries) return this.entries;
    this.entries = new Map();
    try {
      if (!ensurePrivateCacheDir(this.cacheRoot, false, true)) return this.entries;
      const text = readPrivate(join(this.cacheRoot, FILE_NAME), MAX_FILE_BYTES);
      if (!text) return this.entries;
      const parsed = JSON.parse(text) as { format?: unknown; check?: unknown; entries?: unknown };
      if (parsed.format !== FORMAT || !Array.isArray(parsed.entries) || parsed.check !== checksum(parsed.entries as Persisted[])) return this.entries;
      for (const e of parsed.entries as Persisted[]) if (isEntry(e)) this.entries.set(e.path, e);
    } catch (err) {
      this.onError(err as Error);
    }
    return this.entries;
  }
}

function checksum(list: readonly Persisted[]): string {
  return hashBytes(Buffer.from(JSON.stringify(list)));
}

function isEntry(e: unknown): e is Persisted {
  const o = e as Record<string, unknown> | null;
  return (
    !!o &&
    typeof o.path === "string" &&
    typeof o.hash === "string" &&
    /^[0-9a-f]{16,128}$/.test(o.hash) &&
    IDENTITY_FIELDS.every((k) => typeof o[k] === "string" && /^[0-9]{1,30}$/.test(o[k] as string))
  );
}
