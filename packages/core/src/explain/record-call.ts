import type { CompileInvocation, CompileRequest, CompilerInfo } from "../engine/types.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { ManifestEntry } from "../storage/codec.js";
import { recordDescription } from "./description-records.js";
import { describeCall, type DescribedFile } from "./key-description.js";

/**
 * Records the key inputs of an entry just stored: what `describeCall` gives,
 * plus, in direct mode, where its include list is (the manifest entry), so a
 * record stays small. Runs after the call was answered.
 */
export async function recordCall(
  hashes: FileHashCache,
  cacheDir: string,
  request: CompileRequest,
  compilerPath: string,
  compiler: CompilerInfo,
  inv: CompileInvocation,
  mode: "direct" | "preprocessor",
  /** The source's hash as the key used it; hashed now when not known. */
  sourceHash: string | undefined,
  direct?: { manifestKey: string; entry: ManifestEntry },
): Promise<void> {
  const source = sourceHash ?? (await hashes.digest(inv.sourceFile))?.hash;
  if (!source) return;
  const extra: DescribedFile[] = [];
  for (const path of inv.extraInputFiles) extra.push({ path, hash: (await hashes.digest(path))?.hash ?? "missing" });
  const description = describeCall(request, compilerPath, compiler, inv, mode, source, extra);
  if (direct) {
    description.manifestKey = direct.manifestKey;
    description.resultKey = direct.entry.resultKey;
  }
  recordDescription(cacheDir, description);
}
