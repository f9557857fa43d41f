import { readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "../util/errors.js";

/** The cache's own settings, in the cache directory (as ccache keeps `ccache.conf` in its directory). */
export const CACHE_DIR_SETTINGS_FILE = "reprise-cache.json";

/** What `reprise --max-size` may write there. */
export interface CacheDirSettings {
  cacheSize?: string | number;
}

/** The settings stored in cache directory `dir`, or undefined when it has none. */
export function readCacheDirSettings(dir: string): { path: string; settings: CacheDirSettings } | undefined {
  const path = join(dir, CACHE_DIR_SETTINGS_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    return { path, settings: JSON.parse(text) as CacheDirSettings };
  } catch (err) {
    throw new ConfigError(`invalid config in ${path}`, `${(err as Error).message} (rewrite it with reprise --max-size SIZE, or delete it)`);
  }
}

/** Merges `update` into cache directory `dir`'s settings, atomically. */
export async function writeCacheDirSettings(dir: string, update: CacheDirSettings): Promise<string> {
  const current = readCacheDirSettings(dir)?.settings ?? {};
  const path = join(dir, CACHE_DIR_SETTINGS_FILE);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ ...current, ...update }, null, 2)}\n`);
  await rename(tmp, path);
  return path;
}
