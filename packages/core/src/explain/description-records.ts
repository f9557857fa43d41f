import { closeSync, fstatSync, openSync, readFileSync, writeSync } from "node:fs";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ensurePrivateCacheDir } from "../storage/cache-root.js";
import { APPEND_FLAGS } from "../util/private-file.js";
import type { KeyDescription } from "./key-description.js";

/** Descriptions `--explain` compares with, per source and compiler: the newest. */
export const MAX_RECORDS_PER_SOURCE = 8;
/**
 * Past this size the log is rewritten with the newest records of each source
 * and compiler, in at most half of it (so a rewrite is rare, and the oldest
 * sources of a huge tree are forgotten first).
 */
const COMPACT_AT_BYTES = 32 * 1024 * 1024;

/** Records folders already checked to be plain private directories (a check costs two lstats). */
const checkedDirs = new Set<string>();
const compacting = new Set<string>();

/**
 * Where the descriptions of stored entries live: `<cache dir>/explain/`, one
 * append-only log of JSON lines, so a miss pays one small write (no read,
 * no rename) and `--explain`, which is rare, does the searching.
 */
export function recordsDir(cacheDir: string): string {
  return join(cacheDir, "explain");
}

function logPath(cacheDir: string): string {
  return join(recordsDir(cacheDir), "records.jsonl");
}

function parseLine(line: string): KeyDescription | undefined {
  try {
    const r = JSON.parse(line) as KeyDescription;
    return typeof r.source === "string" && typeof r.compilerPath === "string" && Array.isArray(r.args) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Two records of the same stored entry (a direct-mode entry is named by its result key). */
function sameEntry(a: KeyDescription, b: KeyDescription): boolean {
  if (a.resultKey !== undefined || b.resultKey !== undefined) return a.resultKey === b.resultKey;
  return JSON.stringify({ ...a, recordedAt: 0 }) === JSON.stringify({ ...b, recordedAt: 0 });
}

/** The newest records of `source` compiled by `compilerPath`, newest first, one per stored entry. */
export function readDescriptions(cacheDir: string, source: string, compilerPath: string): KeyDescription[] {
  let text: string;
  try {
    text = readFileSync(logPath(cacheDir), "utf8");
  } catch {
    return [];
  }
  const needle = JSON.stringify(source);
  const lines = text.split("\n");
  const found: KeyDescription[] = [];
  for (let i = lines.length - 1; i >= 0 && found.length < MAX_RECORDS_PER_SOURCE; i--) {
    if (!lines[i]!.includes(needle)) continue;
    const r = parseLine(lines[i]!);
    if (r && r.source === source && r.compilerPath === compilerPath && !found.some((f) => sameEntry(f, r))) found.push(r);
  }
  return found;
}

/**
 * Appends a description: one write of one line (O_APPEND, so lines of
 * parallel writers do not interleave), made after the call was answered.
 * Never through a link: the folder is checked, the file opened O_NOFOLLOW.
 */
export function recordDescription(cacheDir: string, description: KeyDescription): void {
  const dir = recordsDir(cacheDir);
  if (!checkedDirs.has(dir)) {
    if (!ensurePrivateCacheDir(cacheDir, false, true) || !ensurePrivateCacheDir(dir, true)) return;
    checkedDirs.add(dir);
  }
  let fd: number;
  try {
    fd = openSync(logPath(cacheDir), APPEND_FLAGS, 0o600);
  } catch (err) {
    // The folder may have been removed (cache cleared): checked and made again next time.
    checkedDirs.delete(dir);
    throw err;
  }
  let size: number;
  try {
    writeSync(fd, `${JSON.stringify(description)}\n`);
    size = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  if (size > COMPACT_AT_BYTES) void compact(cacheDir).catch(() => undefined);
}

/**
 * Forgets every description (`reprise --clear`): the entries they describe
 * are gone, so `--explain` must not compare with them. Removes the log
 * file only; never through a link (the folder is checked first, and unlink
 * removes a link itself, not its target).
 */
export async function forgetDescriptions(cacheDir: string): Promise<void> {
  const dir = recordsDir(cacheDir);
  if (!ensurePrivateCacheDir(cacheDir, false, true) || !ensurePrivateCacheDir(dir, false)) return;
  await rm(logPath(cacheDir), { force: true });
}

/**
 * Rewrites the log with the newest records of each source and compiler, in
 * half the size that triggers it (asynchronously, once at a time). Lines appended meanwhile may be lost:
 * only explanations, never cache entries.
 */
export async function compact(cacheDir: string): Promise<void> {
  const path = logPath(cacheDir);
  if (compacting.has(path)) return;
  compacting.add(path);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    const lines = (await readFile(path, "utf8")).split("\n");
    const kept: string[] = [];
    let budget = COMPACT_AT_BYTES / 2;
    const perSource = new Map<string, KeyDescription[]>();
    for (let i = lines.length - 1; i >= 0; i--) {
      const r = parseLine(lines[i]!);
      if (!r) continue;
      const id = `${r.compilerPath}\0${r.source}`;
      const seen = perSource.get(id) ?? [];
      if (seen.length >= MAX_RECORDS_PER_SOURCE || seen.some((s) => sameEntry(s, r))) continue;
      budget -= lines[i]!.length + 1;
      if (budget < 0) break;
      seen.push(r);
      perSource.set(id, seen);
      kept.push(lines[i]!);
    }
    await writeFile(temp, kept.reverse().map((l) => `${l}\n`).join(""), { mode: 0o600, flag: "w" });
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
    compacting.delete(path);
  }
}
