import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { HASH_ALGORITHM } from "@reprise/core";

interface FileSig {
  rel: string;
  size: number;
  sig: string;
  mtimeMs: number;
}

interface Memo {
  signature: string;
  checkedAt: number;
  digest: Promise<string>;
}

/** Every regular file under `dir`, sorted, with what tells a changed file apart. */
function listFiles(dir: string): FileSig[] | undefined {
  const out: FileSig[] = [];
  const walk = (abs: string, rel: string): boolean => {
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch {
      return false;
    }
    for (const n of names.sort()) {
      const p = join(abs, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p, r);
      else if (st.isFile()) out.push({ rel: r, size: st.size, sig: `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`, mtimeMs: Math.max(st.mtimeMs, st.ctimeMs) });
    }
    return true;
  };
  return walk(dir, "") ? out : undefined;
}

/**
 * Content digests of toolchain directories (a target's std rlibs in
 * `<sysroot>/lib/rustlib/<target>/lib`, the host's `rust-lld` in `.../bin`),
 * memoised per directory: the files are hashed once per daemon, and a call
 * only re-lists the directory (at most once a second) to notice a toolchain
 * updated in place. A directory that changed within the last two seconds is
 * not remembered, like the engine's file hash cache.
 */
export class DirectoryDigests {
  private readonly memo = new Map<string, Memo>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly recheckMs = 1000,
  ) {}

  /**
   * `hashFile`: the engine's file hashing (`KeyContext.digestFile`), which
   * keeps large files' hashes across daemon restarts; the default reads them.
   */
  digest(dir: string, hashFile: HashFile = hashFileBytes): Promise<string> {
    const now = this.now();
    const memo = this.memo.get(dir);
    if (memo && now - memo.checkedAt < this.recheckMs) return memo.digest;
    const files = listFiles(dir);
    if (!files) {
      this.memo.delete(dir);
      return Promise.resolve("missing");
    }
    const signature = files.map((f) => `${f.rel}\0${f.sig}`).join("\n");
    if (memo && memo.signature === signature) {
      memo.checkedAt = now;
      return memo.digest;
    }
    const digest = hashFiles(dir, files, hashFile);
    const young = files.some((f) => now - f.mtimeMs < 2000);
    if (young) this.memo.delete(dir);
    else {
      this.memo.set(dir, { signature, checkedAt: now, digest });
      digest.catch(() => this.memo.delete(dir));
    }
    return digest;
  }
}

type HashFile = (path: string) => Promise<string | undefined>;

async function hashFileBytes(path: string): Promise<string | undefined> {
  const data = await readFile(path).catch(() => undefined);
  return data && createHash(HASH_ALGORITHM).update(data).digest("hex");
}

/** The directory's digest: each file's name, size and content hash, in order. */
async function hashFiles(dir: string, files: FileSig[], hashFile: HashFile): Promise<string> {
  const h = createHash(HASH_ALGORITHM);
  for (const f of files) {
    const hash = await hashFile(join(dir, f.rel));
    if (hash === undefined) throw new Error(`cannot read ${join(dir, f.rel)}`);
    h.update(`${f.rel}\0${f.size}\0${hash}\0`);
  }
  return h.digest("hex").slice(0, 64);
}
