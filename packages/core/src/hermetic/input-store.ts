import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { hashBytes } from "../hashing/key-hasher.js";
import { RepriseError } from "../util/errors.js";
import { tempSuffix } from "../util/temp-suffix.js";
import { readRegularFileSync, SYNC_READ_MAX } from "../util/read-regular-sync.js";

const HASH = /^[0-9a-f]{64}$/;

export interface InputStorePruneOptions {
  /** Most bytes kept. */
  maxBytes: number;
  /** Blobs stored or used this recently are kept whatever the size (a job may be using them). */
  graceMs: number;
}

/**
 * Job inputs by content hash: the source files and headers a job carries,
 * `<dir>/<first two hex digits>/<hash>`. A builder keeps them, so a later job
 * only needs what it lacks. Blobs are read-only (0444) once stored and never
 * rewritten, so sandboxes hard-link or bind them; a blob's mtime is its last
 * use, for `prune`.
 */
/** A blob used again within this time is not marked used again (its mtime is for prunes, whose grace is far longer). */
const TOUCH_EVERY_MS = 60_000;

export class InputStore {
  /** When this process last marked each blob used. */
  private readonly touched = new Map<string, number>();
  /** Shard directories this process made or found: a cold job stores tens of blobs, a mkdir each cost more than the write. */
  private readonly shards = new Set<string>();

  /** `dir` normalised once: a builder asks for a blob's path for every input of every job, and `join` normalises each time. */
  private readonly root: string;

  constructor(readonly dir: string) {
    this.root = join(dir, "x").slice(0, -1);
  }

  blobPath(hash: string): string {
    if (!HASH.test(hash)) throw new RepriseError(`invalid input hash "${hash}"`, "E_INPUT_HASH");
    return `${this.root}${hash.slice(0, 2)}/${hash}`;
  }

  has(hash: string): boolean {
    return existsSync(this.blobPath(hash));
  }

  /**
   * Whether the blob is held, marking it used: a syscall at most once a
   * minute per blob (what `putFile` does for a blob it holds), not one per
   * job input per job. A blob this store marked within the minute is held:
   * no prune removes it meanwhile, and this store's own prune forgets it.
   */
  holds(hash: string): boolean {
    const now = Date.now();
    if (now - (this.touched.get(hash) ?? -Infinity) < TOUCH_EVERY_MS) return true;
    try {
      utimesSync(this.blobPath(hash), now / 1000, now / 1000);
    } catch {
      return false;
    }
    this.rememberTouched(hash, now);
    return true;
  }

  /**
   * Stores the contents of `file` under `hash` (which the caller computed)
   * unless present, and marks the blob used. The bytes copied are hashed
   * again: false when they no longer match (the file changed since it was
   * hashed), and nothing is stored. `data`: the very bytes `hash` was
   * computed from (FileHashCache.digestAndBytes), stored as they are: the
   * file is neither read nor hashed again.
   */
  async putFile(file: string, hash: string, data?: Buffer): Promise<boolean> {
    const now = Date.now();
    // Marked used by this store within the minute (so a valid hash): no syscall. No prune removes it meanwhile
    // (their grace is longer), and this store's own prune forgets what it removed.
    if (now - (this.touched.get(hash) ?? -Infinity) < TOUCH_EVERY_MS) return true;
    const target = this.blobPath(hash);
    // One syscall: marking it used tells it is there, and a prune spares what was used within its grace.
    try {
      utimesSync(target, now / 1000, now / 1000);
      this.rememberTouched(hash, now);
      return true;
    } catch (err) {
      // Held, but not ours to mark (another user's store): used as it is.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" && existsSync(target)) return true;
      // Not stored yet, or removed by a prune of another process: stored below.
    }
    const bytes = data ?? readRegularFileSync(file, SYNC_READ_MAX) ?? (await readFile(file));
    if (!data && hashBytes(bytes) !== hash) return false;
    this.putBytes(hash, bytes);
    return true;
  }

  /**
   * Stores `bytes` under `hash`, which the caller has checked is its hash
   * (written beside its place and renamed there: never a partial blob), and
   * marks it used.
   */
  putBytes(hash: string, bytes: Uint8Array): void {
    const target = this.blobPath(hash);
    const shard = join(this.dir, hash.slice(0, 2));
    const tmp = `${target}.${tempSuffix()}`;
    try {
      if (!this.shards.has(shard)) mkdirSync(shard, { recursive: true, mode: 0o700 });
      this.shards.add(shard);
      try {
        writeFileSync(tmp, bytes, { mode: 0o444, flag: "wx" });
      } catch (err) {
        // The shard was removed since (the store emptied by hand): made again, once.
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        mkdirSync(shard, { recursive: true, mode: 0o700 });
        writeFileSync(tmp, bytes, { mode: 0o444, flag: "wx" });
      }
      renameSync(tmp, target);
      this.rememberTouched(hash, Date.now());
    } catch (err) {
      this.shards.delete(shard);
      try {
        unlinkSync(tmp);
      } catch {
        // not created
      }
      throw err;
    }
  }

  private rememberTouched(hash: string, at: number): void {
    // Bounded: forgetting only costs one more touch.
    if (this.touched.size >= 100_000) this.touched.clear();
    this.touched.set(hash, at);
  }

  /**
   * Removes the least recently used blobs until the store holds at most
   * `maxBytes`, never one used within `graceMs` (at least twice the time
   * within which `putFile` trusts its memory of a use). Returns the bytes removed.
   */
  prune(options: InputStorePruneOptions): number {
    const graceMs = Math.max(options.graceMs, 2 * TOUCH_EVERY_MS);
    const blobs: { path: string; size: number; used: number }[] = [];
    let total = 0;
    let shards: string[];
    try {
      shards = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const shard of shards) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      let names: string[];
      try {
        names = readdirSync(join(this.dir, shard));
      } catch {
        continue;
      }
      for (const name of names) {
        const path = join(this.dir, shard, name);
        try {
          const st = lstatSync(path);
          if (!st.isFile()) continue;
          // Leftovers of an interrupted store are removed once old.
          if (!HASH.test(name)) {
            if (Date.now() - st.mtimeMs > graceMs) rmSync(path, { force: true });
            continue;
          }
          blobs.push({ path, size: st.size, used: st.mtimeMs });
          total += st.size;
        } catch {
          // gone meanwhile
        }
      }
    }
    if (total <= options.maxBytes) return 0;
    blobs.sort((a, b) => a.used - b.used);
    const cutoff = Date.now() - graceMs;
    let removed = 0;
    for (const b of blobs) {
      if (total - removed <= options.maxBytes || b.used > cutoff) break;
      rmSync(b.path, { force: true });
      this.touched.delete(basename(b.path));
      removed += b.size;
    }
    return removed;
  }
}
