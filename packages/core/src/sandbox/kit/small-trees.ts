/**
 * A job's directories on the host are usually a handful of entries (its
 * objects and the directories above them): walked synchronously they cost a
 * few system calls, against a promise and a thread-pool hand-off per entry
 * through `fs/promises`. A job can leave any number of files, though, so each
 * walk stops at a bound and the caller falls back to the asynchronous way.
 */
import { lstatSync, readdirSync, rmdirSync, unlinkSync, type Dirent } from "node:fs";

/** Entries a synchronous walk visits at most. */
export const SMALL_TREE_ENTRIES = 256;

/**
 * The entries below `dir`, children before their directory (the order they
 * can be removed in), or undefined past `maxEntries` or when a directory
 * cannot be read. Never follows a link.
 */
function listSmallTree(dir: string, maxEntries: number): { path: string; entry: Dirent }[] | undefined {
  const found: { path: string; entry: Dirent }[] = [];
  const walk = (d: string): boolean => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return false;
    }
    if (found.length + entries.length > maxEntries) return false;
    for (const e of entries) {
      const p = `${d}/${e.name}`; // readdir names need no normalising
      if (e.isDirectory() && !walk(p)) return false;
      found.push({ path: p, entry: e });
    }
    return true;
  };
  return walk(dir) ? found : undefined;
}

/** Total size of the regular files below `dir` (not following links), or undefined past `maxEntries` entries. */
export function smallTreeUsage(dir: string, maxEntries = SMALL_TREE_ENTRIES): number | undefined {
  const entries = listSmallTree(dir, maxEntries);
  if (!entries) return undefined;
  let total = 0;
  for (const { path, entry } of entries) {
    if (!entry.isFile()) continue;
    try {
      total += lstatSync(path).size;
    } catch {
      // removed meanwhile
    }
  }
  return total;
}

/**
 * Removes `dir` and everything below it when it holds at most `maxEntries`
 * entries; false (nothing removed) when it holds more or cannot be read.
 */
export function removeSmallTree(dir: string, maxEntries = SMALL_TREE_ENTRIES): boolean {
  const entries = listSmallTree(dir, maxEntries);
  if (!entries) return false;
  try {
    for (const { path, entry } of entries) {
      if (entry.isDirectory()) rmdirSync(path);
      else unlinkSync(path);
    }
    rmdirSync(dir);
    return true;
  } catch {
    return false; // changed meanwhile: the caller's fallback removes what is left
  }
}
