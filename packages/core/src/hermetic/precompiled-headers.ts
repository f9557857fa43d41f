import { readdirSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { RACY_WINDOW_MS } from "../hashing/file-hash-cache.js";

const SUFFIXES = [".gch", ".pch"];

/** A directory's precompiled headers as listed when its change time was `ctimeMs`. */
interface Listing {
  ctimeMs: number;
  mtimeMs: number;
  ino: number;
  names: ReadonlySet<string>;
}

const MAX_DIRECTORIES = 10_000;
const listings = new Map<string, Listing>();

/**
 * The first of `files` with a precompiled header beside it (`a.h.gch`,
 * `a.h.pch`), which gcc would read instead of the header. One `stat` per
 * directory rather than two per file: a directory's listing is kept while
 * its times and inode are unchanged (adding, removing or renaming an entry
 * changes them), and not kept when they are too recent to tell a change
 * made in the same clock tick.
 */
export function precompiledBeside(files: readonly string[]): string | undefined {
  const byDir = new Map<string, string[]>();
  for (const f of files) {
    const dir = dirname(f);
    const list = byDir.get(dir);
    if (list) list.push(f);
    else byDir.set(dir, [f]);
  }
  for (const [dir, inDir] of byDir) {
    const names = precompiledIn(dir);
    if (names.size === 0) continue;
    const found = inDir.find((f) => SUFFIXES.some((s) => names.has(basename(f) + s)));
    if (found) return found;
  }
  return undefined;
}

function precompiledIn(dir: string): ReadonlySet<string> {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return new Set();
  }
  const known = listings.get(dir);
  if (known && known.ctimeMs === st.ctimeMs && known.mtimeMs === st.mtimeMs && known.ino === st.ino) return known.names;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return new Set();
  }
  const names = new Set(entries.filter((e) => SUFFIXES.some((s) => e.endsWith(s))));
  if (Date.now() - Math.max(st.ctimeMs, st.mtimeMs) > RACY_WINDOW_MS) {
    if (listings.size >= MAX_DIRECTORIES) listings.clear();
    listings.set(dir, { ctimeMs: st.ctimeMs, mtimeMs: st.mtimeMs, ino: st.ino, names });
  } else {
    listings.delete(dir);
  }
  return names;
}
