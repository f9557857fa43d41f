import { readdirSync } from "node:fs";

/** The entry names in `dir`; none when it cannot be read (gone, not a directory, not ours): for sweeps that skip what they cannot see. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
