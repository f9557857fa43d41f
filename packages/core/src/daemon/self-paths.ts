import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Real paths of Reprise's own executables, which must never be mistaken for the compiler. */
export function reprisesOwnExecutables(extra: string[] = []): Set<string> {
  const candidates = [fileURLToPath(new URL("../bin/reprise.js", import.meta.url)), fileURLToPath(new URL("../../native/reprise-native", import.meta.url)), ...extra];
  const set = new Set<string>();
  for (const p of candidates) {
    try {
      set.add(realpathSync(p));
    } catch {
      // not built
    }
  }
  return set;
}
