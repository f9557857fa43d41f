import type { CacheEntry } from "../storage/codec.js";
import type { OutputAdapter } from "./adapt-outputs.js";
import type { StagedOutput } from "./lead-copy.js";
import type { CompileInvocation } from "./types.js";
import { writeOutputAtomically } from "./write-output.js";

/** An output whose bytes are not in the entry but put in place by a copy (lead-copy.ts); never adapted. */
export interface CopiedLead {
  role: string;
  /** Copies and verifies the output beside `path` (throws CorruptEntryError when the copy fails its check). */
  stage(path: string, executable: boolean): StagedOutput;
}

/**
 * Writes a cached entry's files where the compile would have written them,
 * each adapted to this call first (see `OutputSpec.adapt`). Returns false
 * (nothing written) when the entry lacks a required output or one cannot be
 * adapted, so the caller treats it as a miss. With `lead`, that output is
 * copied and verified first and moved into place last, after the others were
 * written; `onWritten` is not told of it (its bytes were never in memory).
 */
export function restoreEntry(entry: CacheEntry, inv: CompileInvocation, onWritten?: (path: string, data: Buffer) => void, adapt?: OutputAdapter, lead?: CopiedLead): boolean {
  const byRole = new Map(entry.outputs.map((o) => [o.role, o.data]));
  const writes: { path: string; data: Buffer; executable?: boolean }[] = [];
  let leadSpec: CompileInvocation["outputs"][number] | undefined;
  for (const out of inv.outputs) {
    if (lead && out.role === lead.role) {
      if (out.adapt) return false;
      leadSpec = out;
      continue;
    }
    const stored = byRole.get(out.role);
    if (!stored) {
      if (!out.optional) return false;
      continue;
    }
    const data = adapt ? adapt(out, stored) : stored;
    if (!data) return false;
    writes.push({ path: out.path, data, ...(out.executable ? { executable: true } : {}) });
  }
  const staged = leadSpec && lead!.stage(leadSpec.path, leadSpec.executable === true);
  try {
    for (const w of writes) {
      writeOutputAtomically(w.path, w.data, w.executable);
      onWritten?.(w.path, w.data);
    }
  } catch (err) {
    staged?.discard();
    throw err;
  }
  staged?.commit();
  return true;
}
