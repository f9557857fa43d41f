import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { prebuiltClientPath } from "../client/native-client-path.js";

/** Real paths of Reprise's own executables, which must never be mistaken for the compiler. */
export function reprisesOwnExecutables(extra: string[] = []): Set<string> {
  // dist/bin/reprise.js, dist/native/reprise-native, bin/reprise (sh launcher or native client) and the platform package's prebuilt.
  const candidates = ["../bin/reprise.js", "../native/reprise-native", "../../bin/reprise"].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const prebuilt = prebuiltClientPath();
  if (prebuilt) candidates.push(prebuilt);
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
