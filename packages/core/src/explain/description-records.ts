import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { ensurePrivateCacheDir } from "../storage/cache-root.js";
import { join } from "node:path";
import { hashBytes } from "../hashing/key-hasher.js";
import type { KeyDescription } from "./key-description.js";

/** Descriptions kept per source and compiler: the newest first. */
const MAX_RECORDS = 8;
const RECORDS_FORMAT = 1;

interface RecordsFile {
  format: number;
  records: KeyDescription[];
}

/**
 * Where the descriptions of stored entries live: `<cache dir>/explain/`, one
 * small JSON file per source file and compiler, so `--explain` finds the
 * entries of "the same source" without knowing their keys.
 */
export function recordsDir(cacheDir: string): string {
  return join(cacheDir, "explain");
}

function recordsPath(cacheDir: string, source: string, compilerPath: string): string {
  return join(recordsDir(cacheDir), `${hashBytes(`${compilerPath}\0${source}`).slice(0, 40)}.json`);
}

export function readDescriptions(cacheDir: string, source: string, compilerPath: string): KeyDescription[] {
  try {
    const file = JSON.parse(readFileSync(recordsPath(cacheDir, source, compilerPath), "utf8")) as RecordsFile;
    if (file.format !== RECORDS_FORMAT || !Array.isArray(file.records)) return [];
    return file.records.filter((r) => r.source === source && r.compilerPath === compilerPath);
  } catch {
    return [];
  }
}

/**
 * Adds a description (read-modify-write, replaced by rename so a reader never
 * sees half a file; a lost race only loses one record). Runs after the call
 * was answered.
 */
export function recordDescription(cacheDir: string, description: KeyDescription): void {
  const path = recordsPath(cacheDir, description.source, description.compilerPath);
  const same = (r: KeyDescription) => JSON.stringify({ ...r, recordedAt: 0 }) === JSON.stringify({ ...description, recordedAt: 0 });
  const older = readDescriptions(cacheDir, description.source, description.compilerPath).filter((r) => !same(r));
  const file: RecordsFile = { format: RECORDS_FORMAT, records: [description, ...older].slice(0, MAX_RECORDS) };
  // A plain private folder of the user's, never a link; the file is replaced by rename, never written through.
  if (!ensurePrivateCacheDir(cacheDir, false, true) || !ensurePrivateCacheDir(recordsDir(cacheDir), true)) return;
  const temp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(file), { mode: 0o600, flag: "wx" });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
