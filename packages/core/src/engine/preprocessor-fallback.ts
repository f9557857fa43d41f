import type pLimit from "p-limit";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import { hashBytes, type KeyHasher } from "../hashing/key-hasher.js";
import { baseKey } from "./cache-key.js";
import type { Engine } from "./engine.js";
import { readFileSync, rmSync } from "node:fs";
import { runCompiler, type CompilerRun } from "./run-compiler.js";
import type { CompileInvocation, CompileRequest, CompilerInfo } from "./types.js";
import type { CacheStorage } from "../storage/cache-storage.js";

/** What the fallback's preprocessing gave: its key, and the complete include list when the plugin asked for one. */
export interface FallbackLookup {
  key: string;
  /** The dependency file `preprocessDepFile` received (every file the preprocessor read). */
  depText?: string;
  /** When the preprocessing started (ms since the epoch): files changed since are not recorded. */
  startedAt: number;
}

/**
 * The key a direct-mode miss looks up before compiling (as ccache does): the
 * arguments as preprocessor mode keys them (without those only the
 * preprocessor reads, such as -D and -I: their effect is in the text; a
 * plugin keeps them all when the object records its command line), the cwd
 * where it reaches the outputs, and the preprocessed text. So CMake's
 * `-DUSING_UV_SHARED=1` test objects hit on the static build's. Only for
 * calls whose plugin says the preprocessed text determines the outputs;
 * undefined when preprocessing fails or the text holds a time marker.
 */
export async function preprocessedFallbackKey(
  engine: Engine,
  hashes: FileHashCache,
  limit: ReturnType<typeof pLimit>,
  request: CompileRequest,
  compiler: CompilerInfo,
  inv: CompileInvocation,
  options: { base?: KeyHasher; lowPriority?: boolean } = {},
): Promise<FallbackLookup | undefined> {
  if (!inv.preprocessedDeterminesOutputs || !inv.preprocessArgv) return undefined;
  const startedAt = Date.now();
  const pre = await runPreprocessor(limit, request, inv, options.lowPriority);
  if (pre.exitCode !== 0) return undefined;
  if (inv.volatileMarkers.some((m) => m.effect === "uncacheable" && pre.stdout.includes(m.token))) return undefined;
  const key = options.base?.fork() ?? (await baseKey(engine, hashes, request, compiler, inv, "preprocessor"));
  const digest = key.add("fallback", "preprocessed").add("preprocessed", hashBytes(pre.stdout)).add("ppStderr", pre.stderr).digest();
  return { key: digest, startedAt, ...(pre.depText !== undefined ? { depText: pre.depText } : {}) };
}

function readTextOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Runs `preprocessArgv`; reads and removes the dependency file it wrote when the plugin named one. */
export async function runPreprocessor(
  limit: ReturnType<typeof pLimit>,
  request: CompileRequest,
  inv: CompileInvocation,
  lowPriority = false,
): Promise<CompilerRun & { depText?: string }> {
  const depFile = inv.preprocessDepFile;
  try {
    const preprocess = () => runCompiler(inv.preprocessArgv!, request.cwd, inv.compileEnv ?? request.env, { lowPriority });
    // Low priority runs only while no call is in flight: holding a slot there would make the next call wait for it.
    const run = await (lowPriority ? preprocess() : limit(preprocess));
    if (!depFile || run.exitCode !== 0) return run;
    // In this thread: a few KB, where the thread pool's round trips cost more than the read.
    const depText = readTextOrUndefined(depFile);
    return depText === undefined ? run : { ...run, depText };
  } finally {
    if (depFile) rmSync(depFile, { force: true });
  }
}

/**
 * The entry again under its preprocessed text's key, for silent compiles
 * only (tryHit serves no other through it). Into the first level alone:
 * the copy helps this machine after a header's comment changed, and remote
 * levels are not made to hold every entry twice.
 */
export async function storeFallbackCopy(storage: CacheStorage, key: string, blob: Buffer): Promise<void> {
  if (storage.writeFirst) await storage.writeFirst("result", key, blob);
  else await storage.write("result", key, blob);
}

/** The copy `storeFallbackCopy` wrote: only the first level is asked (remote levels never hold one). */
export function readFallbackCopy(storage: CacheStorage, key: string): Promise<Buffer | undefined> {
  return storage.readFirst ? storage.readFirst("result", key) : storage.read("result", key);
}
