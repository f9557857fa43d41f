import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Makes a copy of core's built `dist/` another release or protocol version:
 * in tsc's files (dist/version.js is what the native client reads) and in
 * the bundles the daemon and the Node client run (scripts/bundle.mjs), where
 * each constant is one line of some chunk.
 */
export function patchBuiltCore(dist: string, patch: { version?: string; protocol?: number }): void {
  const edits: [RegExp, string][] = [];
  if (patch.version !== undefined) edits.push([/REPRISE_VERSION = "[^"]*"/, `REPRISE_VERSION = "${patch.version}"`]);
  if (patch.protocol !== undefined) edits.push([/PROTOCOL_VERSION = \d+/, `PROTOCOL_VERSION = ${patch.protocol}`]);
  const files = [join(dist, "version.js"), join(dist, "protocol/frames.js"), ...readdirSync(join(dist, "bundle")).map((f) => join(dist, "bundle", f))];
  for (const [pattern, replacement] of edits) {
    let patched = 0;
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      if (!pattern.test(text)) continue;
      writeFileSync(file, text.replace(pattern, replacement));
      patched++;
    }
    // tsc's file, the ES modules' chunk and the daemon's script: exactly one of each, or the copy is not what the test thinks.
    if (patched !== 3) throw new Error(`${pattern} found in ${patched} files of ${dist}, expected 3`);
  }
}
