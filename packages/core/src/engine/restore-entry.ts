import type { CacheEntry } from "../storage/codec.js";
import type { OutputAdapter } from "./adapt-outputs.js";
import type { CompileInvocation } from "./types.js";
import { writeOutputAtomically } from "./write-output.js";

/**
 * Writes a cached entry's files where the compile would have written them,
 * each adapted to this call first (see `OutputSpec.adapt`). Returns false
 * (nothing written) when the entry lacks a required output or one cannot be
 * adapted, so the caller treats it as a miss.
 */
export function restoreEntry(entry: CacheEntry, inv: CompileInvocation, onWritten?: (path: string, data: Buffer) => void, adapt?: OutputAdapter): boolean {
  const byRole = new Map(entry.outputs.map((o) => [o.role, o.data]));
  const writes: { path: string; data: Buffer; executable?: boolean }[] = [];
  for (const out of inv.outputs) {
    const stored = byRole.get(out.role);
    if (!stored) {
      if (!out.optional) return false;
      continue;
    }
    const data = adapt ? adapt(out, stored) : stored;
    if (!data) return false;
    writes.push({ path: out.path, data, ...(out.executable ? { executable: true } : {}) });
  }
  for (const w of writes) {
    writeOutputAtomically(w.path, w.data, w.executable);
    onWritten?.(w.path, w.data);
  }
  return true;
}
