import type { CacheEntry } from "../storage/codec.js";
import type { CompileInvocation } from "./types.js";
import { writeOutputAtomically } from "./write-output.js";

/**
 * Writes a cached entry's files where the compile would have written them.
 * Returns false (nothing written) when the entry lacks a required output, so
 * the caller treats it as a miss.
 */
export function restoreEntry(entry: CacheEntry, inv: CompileInvocation, onWritten?: (path: string, data: Buffer) => void): boolean {
  const byRole = new Map(entry.outputs.map((o) => [o.role, o.data]));
  for (const out of inv.outputs) if (!out.optional && !byRole.has(out.role)) return false;
  for (const out of inv.outputs) {
    const data = byRole.get(out.role);
    if (data) {
      writeOutputAtomically(out.path, data, out.executable);
      onWritten?.(out.path, data);
    }
  }
  return true;
}
