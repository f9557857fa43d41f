import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { hashBytes } from "../hashing/key-hasher.js";
import { CREATE_NEW_FLAGS, readPrivate } from "./private-file.js";
import { ensurePrivateCacheDir } from "../storage/cache-root.js";

const MAX_FILE_BYTES = 4 * 1024 * 1024;

export interface PersistedRecordsOptions<T> {
  /** File name in the cache root. */
  file: string;
  /** Written into the file: a file of another format is ignored. */
  format: string;
  /** Most records kept; the oldest go first. */
  maxEntries: number;
  /** Whether a record read back has the expected shape (a damaged or foreign one is dropped). */
  valid: (value: unknown) => value is T;
  onError?: (err: Error) => void;
  /** How long after a change the file is written (ms; default 200): changes within it share one write. */
  saveDelayMs?: number;
}

/**
 * Small answers a fresh daemon would otherwise work out again (what a
 * compiler is, where it searches for headers), kept by key in a JSON file of
 * the private cache root. The key must name everything the answer depends on:
 * a record is taken as it is. The file is read once, opened without following
 * links, written to a new file renamed over it, and carries a checksum of its
 * records: a damaged or foreign file is ignored.
 */
export class PersistedRecords<T> {
  private entries: Map<string, T> | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private dirty = false;

  constructor(
    private readonly cacheRoot: string,
    private readonly o: PersistedRecordsOptions<T>,
  ) {}

  get(key: string): T | undefined {
    return this.load().get(key);
  }

  set(key: string, value: T): void {
    const entries = this.load();
    entries.delete(key);
    entries.set(key, value);
    while (entries.size > this.o.maxEntries) entries.delete(entries.keys().next().value!);
    this.dirty = true;
    this.saveTimer ??= setTimeout(() => this.flush(), this.o.saveDelayMs ?? 200).unref();
  }

  delete(key: string): void {
    if (this.load().delete(key)) {
      this.dirty = true;
      this.saveTimer ??= setTimeout(() => this.flush(), this.o.saveDelayMs ?? 200).unref();
    }
  }

  /** Writes what changed since the last save (also at daemon stop). */
  flush(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.entries || !this.dirty) return;
    this.dirty = false;
    try {
      if (!ensurePrivateCacheDir(this.cacheRoot, true, true)) return;
      const list = [...this.entries];
      const text = JSON.stringify({ format: this.o.format, check: checksum(list), entries: list });
      const file = join(this.cacheRoot, this.o.file);
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
      this.o.onError?.(err as Error);
    }
  }

  private load(): Map<string, T> {
    if (this.entries) return this.entries;
    this.entries = new Map();
    try {
      if (!ensurePrivateCacheDir(this.cacheRoot, false, true)) return this.entries;
      const text = readPrivate(join(this.cacheRoot, this.o.file), MAX_FILE_BYTES);
      if (!text) return this.entries;
      const parsed = JSON.parse(text) as { format?: unknown; check?: unknown; entries?: unknown };
      if (parsed.format !== this.o.format || !Array.isArray(parsed.entries) || parsed.check !== checksum(parsed.entries as unknown[])) return this.entries;
      for (const e of parsed.entries as unknown[]) {
        if (Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && this.o.valid(e[1])) this.entries.set(e[0], e[1]);
      }
    } catch (err) {
      this.o.onError?.(err as Error);
    }
    return this.entries;
  }
}

function checksum(list: readonly unknown[]): string {
  return hashBytes(Buffer.from(JSON.stringify(list)));
}
