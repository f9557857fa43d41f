import { configSchema } from "../config/schema.js";
import { SettingsLoader } from "../config/load-settings.js";
import { writeCacheDirSettings } from "../config/cache-dir-settings.js";

/**
 * `reprise --max-size SIZE`: stores the size limit in the cache directory
 * the working directory's settings use, where every later call finds it
 * (the environment's REPRISE_CACHE_SIZE still wins). Returns the file written.
 */
export async function setMaxSize(size: string, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): Promise<{ file: string; bytes: number }> {
  const parsed = configSchema.safeParse({ cacheSize: /^\d+$/.test(size) ? Number(size) : size });
  if (!parsed.success || parsed.data.cacheSize === undefined) {
    throw new Error(`invalid size "${size}" (examples: 500M, 10G, 1073741824)`);
  }
  const settings = await new SettingsLoader().load(cwd, env as Record<string, string>);
  const file = await writeCacheDirSettings(settings.dir, { cacheSize: size });
  return { file, bytes: parsed.data.cacheSize };
}
