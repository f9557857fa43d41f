import { statSync } from "node:fs";
import type { CacheStorage, StagedBlob } from "../storage/cache-storage.js";
import { RAW_MIN_BODY } from "../storage/codec.js";
import type { OutputSpec } from "./types.js";

/** A compile's output the kernel copied into the storage as the start of its entry (entry format 4, storage/lead-entry.ts). */
export interface CopiedOutput {
  spec: OutputSpec;
  staged: StagedBlob;
}

/** Outputs from this size are copied by the kernel rather than read into the daemon, where the storage can. */
export const COPY_MIN_BYTES = RAW_MIN_BODY;

/**
 * Before the answer (the build may rewrite the outputs right after): the
 * call's largest output, when it is large, copied into the storage by the
 * kernel, so its bytes are neither read into the daemon nor written from it
 * (rlibs, programs and shared libraries are most of a cargo build's entries).
 * Undefined when the storage cannot (remote levels need the bytes) or no
 * output is large; outputs a plugin adapts per call are always read.
 */
export function copyLargestOutput(storage: CacheStorage, specs: readonly OutputSpec[]): CopiedOutput | undefined {
  if (!storage.beginCopy) return undefined;
  let largest: { spec: OutputSpec; size: number } | undefined;
  for (const spec of specs) {
    if (spec.adapt) continue;
    let st;
    try {
      st = statSync(spec.path, { throwIfNoEntry: false });
    } catch {
      // Unreadable here: the outputs are read (or found missing) as always.
      return undefined;
    }
    if (st?.isFile() && st.size >= COPY_MIN_BYTES && (!largest || st.size > largest.size)) largest = { spec, size: st.size };
  }
  if (!largest) return undefined;
  const staged = storage.beginCopy("result", largest.spec.path);
  return staged && { spec: largest.spec, staged };
}
