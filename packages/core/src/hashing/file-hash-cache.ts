import { open, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { LRUCache } from "lru-cache";
import { hashBytes } from "./key-hasher.js";

export interface FileDigest {
  hash: string;
  size: number;
  /** Which of the requested tokens occur in the file. */
  tokens: string[];
}

/**
 * Content hashes of files, remembered by (device, inode, size, mtime, ctime)
 * so an unchanged header is hashed once per daemon lifetime. A file modified
 * within the last two seconds is never remembered: its mtime may not yet tell
 * a later change in the same timestamp tick apart (ccache's "mtime race").
 */
export class FileHashCache {
  private readonly cache: LRUCache<string, FileDigest>;
  hits = 0;
  misses = 0;

  constructor(maxEntries = 200_000, private readonly now: () => number = Date.now) {
    this.cache = new LRUCache({ max: maxEntries });
  }

  /** Digest of `path`, or undefined if it cannot be read. */
  async digest(path: string, tokens: readonly string[] = []): Promise<FileDigest | undefined> {
    let st: Stats;
    try {
      st = await stat(path);
    } catch {
      return undefined;
    }
    if (!st.isFile()) return undefined;
    const key = `${path}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}\0${st.ctimeMs}\0${tokens.join(",")}`;
    const known = this.cache.get(key);
    if (known) {
      this.hits++;
      return known;
    }
    this.misses++;
    const data = await readWhole(path, st.size);
    if (!data) return undefined;
    const digest: FileDigest = { hash: hashBytes(data), size: data.length, tokens: tokens.filter((t) => data.includes(t)) };
    const newest = Math.max(st.mtimeMs, st.ctimeMs);
    if (this.now() - newest > 2000) this.cache.set(key, digest);
    return digest;
  }

  clear(): void {
    this.cache.clear();
  }
}

async function readWhole(path: string, expected: number): Promise<Buffer | undefined> {
  try {
    const fh = await open(path, "r");
    try {
      if (expected > 0) {
        const buf = Buffer.allocUnsafe(expected);
        const { bytesRead } = await fh.read(buf, 0, expected, 0);
        if (bytesRead === expected) {
          // The file may have grown since stat: read the rest normally.
          const rest = await fh.readFile();
          return rest.length ? Buffer.concat([buf, rest]) : buf;
        }
        return buf.subarray(0, bytesRead);
      }
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}
