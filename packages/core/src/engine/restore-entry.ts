import type { CacheEntry } from "../storage/codec.js";
import type { CompileInvocation } from "./types.js";
import { writeOutputAtomically } from "./write-output.js";

/**
 * Writes a cached entry's files where the compile would have written them.
 * Returns false (nothing written) when the entry lacks a required output, so
 * the caller treats it as a miss.
 */
export async function restoreEntry(entry: CacheEntry, inv: CompileInvocation): Promise<boolean> {
  const byRole = new Map(entry.outputs.map((o) => [o.role, o.data]));
  for (const out of inv.outputs) if (!out.optional && !byRole.has(out.role)) return false;
  await Promise.all(
    inv.outputs.map((out) => {
      const data = byRole.get(out.role);
      return data ? writeOutputAtomically(out.path, data) : undefined;
    }),
  );
  return true;
}
