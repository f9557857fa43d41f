import type { ModeDeps } from "./mode-deps.js";
import type { DirectCall } from "./serve-direct.js";
import { parseDepFile } from "./dep-file.js";
import { runPreprocessor } from "./preprocessor-fallback.js";
import { preprocessorModeKey } from "./serve-preprocessed.js";
import type { ManifestEntry } from "../storage/codec.js";

/**
 * Where a miss is kept when a file it read probes through a macro
 * (`__has_include(MACRO)`): no manifest can watch what such a probe asks, so
 * its manifest entry sends the next call to preprocessor mode, and the result
 * goes under the key that call looks up. The text is preprocessed after the
 * compile (the probe is only found then); undefined when anything the
 * compile read changed meanwhile, or the preprocessing read a file the
 * compile did not (the text would then not be the one compiled).
 */
export async function preprocessedKeyAfterCompile(d: ModeDeps, dc: DirectCall, entry: ManifestEntry): Promise<string | undefined> {
  const { call } = dc;
  const { inv, request } = call;
  if (!inv.preprocessArgv) return undefined;
  const unchanged = async () => {
    if ((await d.hashes.digest(inv.sourceFile, dc.tokens))?.hash !== dc.sourceHash) return false;
    for (const f of entry.files) if ((await d.hashes.digest(f.path, dc.tokens))?.hash !== f.hash) return false;
    return true;
  };
  if (!(await unchanged())) return undefined;
  const pre = await runPreprocessor(d.limit, request, inv);
  if (pre.exitCode !== 0 || !(await unchanged())) return undefined;
  if (pre.depText !== undefined) {
    const compiled = new Set([inv.sourceFile, ...entry.files.map((f) => f.path)]);
    const other = parseDepFile(pre.depText, request.cwd).find((p) => !compiled.has(p));
    if (other !== undefined) {
      call.log.debug("%s: the preprocessing read %s, which the compile did not; not kept for preprocessor mode", inv.sourceFile, other);
      return undefined;
    }
  }
  return preprocessorModeKey(d, call, pre);
}
