import { readFile } from "node:fs/promises";
import type { Call, CallResult } from "./call.js";
import type { ModeDeps } from "./mode-deps.js";
import { baseKey } from "./cache-key.js";
import { runPreprocessor } from "./preprocessor-fallback.js";
import { hashBytes } from "../hashing/key-hasher.js";

/**
 * The result key of preprocessor mode for `preprocessed` (the call's preprocessed text and the preprocessor's
 * diagnostics); undefined when the text holds a time marker (markers survive preprocessing only where they are not
 * macros, e.g. an assembler's .incbin).
 */
export async function preprocessorModeKey(d: ModeDeps, call: Call, preprocessed: { stdout: Buffer; stderr: Buffer }): Promise<string | undefined> {
  const { inv } = call;
  if (inv.volatileMarkers.some((m) => m.effect === "uncacheable" && preprocessed.stdout.includes(m.token))) return undefined;
  const key = await baseKey(call.project.engine, d.hashes, call.request, call.compiler, inv, "preprocessor");
  return key.add("preprocessed", hashBytes(preprocessed.stdout)).add("ppStderr", preprocessed.stderr).digest();
}

/** Preprocessor mode: the key is over the preprocessed text (the source itself for languages without a preprocessor). */
export async function servePreprocessorMode(d: ModeDeps, call: Call): Promise<CallResult> {
  const { inv, request } = call;
  let preprocessed: { stdout: Buffer; stderr: Buffer; depText?: string };
  if (inv.preprocessArgv) {
    const pre = await runPreprocessor(d.limit, request, inv);
    // Let the real compile report the error exactly as it would.
    if (pre.exitCode !== 0) return d.misses.compileAndStore(call, undefined, async () => undefined);
    preprocessed = pre;
  } else {
    const source = await readFile(inv.sourceFile).catch(() => undefined);
    if (!source) return d.outcomes.local(inv.compileArgv[0]!, "no-source", call.started, call.request, call.compiler);
    preprocessed = { stdout: source, stderr: Buffer.alloc(0) };
  }
  const resultKey = await preprocessorModeKey(d, call, preprocessed);
  if (!resultKey) return d.outcomes.local(inv.compileArgv[0]!, "time-macro", call.started, call.request, call.compiler);
  await d.misses.pending(resultKey);
  const hit = await d.hits.tryHit(call, resultKey, "preprocessor");
  if (hit) return hit;
  call.log.debug("%s: preprocessor mode, result key %s", inv.sourceFile, resultKey);
  const deps = preprocessed.depText === undefined ? {} : { preprocessDeps: preprocessed.depText };
  return d.misses.compileAndStore(call, resultKey, async () => ({ resultKey, after: () => d.misses.record(call, "preprocessor", undefined) }), deps);
}
