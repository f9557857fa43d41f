import { mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { posix } from "node:path";

/** A prepared input tree in use by a job; `release` once the job has ended. */
export interface InputTreeLease {
  path: string;
  release(): void;
}

/**
 * Keeps the read-only input trees of ended jobs (directories of hard-linked
 * inputs, see `planJobLayout`) so that a later job whose tree would hold
 * exactly the same entries mounts the prepared one instead of making its
 * directories and links again. The key names every entry of the tree (path,
 * content digest, mode, link text, empty directories), so a reused tree is
 * exactly the job's own: never a file of another job's closure.
 *
 * Bounded by a number of trees; a tree in use is never removed. Trees hold
 * hard links to the blob store's files, so their bytes live on while a tree
 * holds them after the blob store evicts the blob (at most `maxTrees` trees).
 * The directory is emptied when the cache is made: a tree left by an earlier
 * process is not trusted.
 */
export class InputTreeCache {
  private readonly entries = new Map<string, { path: string; users: number }>();
  private serial = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly dir: string,
    private readonly maxTrees = 256,
  ) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /**
   * The tree for `key`, made by `build(dir)` (which fills the fresh empty
   * directory `dir`) when none is held. Synchronous: two jobs of one process
   * never build the same tree at once.
   */
  acquire(key: string, build: (dir: string) => void): InputTreeLease {
    let entry = this.entries.get(key);
    if (entry) {
      this.hits++;
      this.entries.delete(key); // re-inserted below: Map order is recency
    } else {
      this.misses++;
      const building = posix.join(this.dir, `.building-${process.pid}-${++this.serial}`);
      mkdirSync(building, { mode: 0o755 });
      try {
        build(building);
      } catch (err) {
        rmSync(building, { recursive: true, force: true });
        throw err;
      }
      const path = posix.join(this.dir, key);
      renameSync(building, path);
      entry = { path, users: 0 };
    }
    this.entries.set(key, entry);
    entry.users++;
    this.evict();
    const held = entry;
    let released = false;
    return {
      path: held.path,
      release: () => {
        if (released) return;
        released = true;
        held.users--;
        this.evict();
      },
    };
  }

  /** How many trees are held. */
  get size(): number {
    return this.entries.size;
  }

  /** Removes least recently used trees no job uses, down to the bound (the removal itself runs in the background). */
  private evict(): void {
    if (this.entries.size <= this.maxTrees) return;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.maxTrees) break;
      if (entry.users > 0) continue;
      this.entries.delete(key);
      const doomed = posix.join(this.dir, `.old-${randomBytes(6).toString("hex")}`);
      try {
        renameSync(entry.path, doomed);
        void rm(doomed, { recursive: true, force: true }).catch(() => {});
      } catch {
        rmSync(entry.path, { recursive: true, force: true });
      }
    }
  }

  /** Names in the cache's directory (for tests: removed trees do not linger). */
  listing(): string[] {
    return readdirSync(this.dir);
  }
}
