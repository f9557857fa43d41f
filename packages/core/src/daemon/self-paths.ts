import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Real paths of Reprise's own executables, which must never be mistaken for the compiler. */
export function reprisesOwnExecutables(extra: string[] = []): Set<string> {
  // dist/bin/reprise.js, dist/native/reprise-native and the package's sh launcher bin/reprise.
  const candidates = ["../bin/reprise.js", "../native/reprise-native", "../../bin/reprise"].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  candidates.push(...extra);
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
