import type { ModeDeps } from "./mode-deps.js";
import type { DirectCall } from "./serve-direct.js";
import type { CopyChecks, LaterCopy } from "./fallback-later.js";
import { baseKey } from "./cache-key.js";
import { parseDepFile } from "./dep-file.js";
import { matchManifest, type SeenDigests } from "./direct-mode.js";
import { preprocessedFallbackKey, readFallbackCopy, storeFallbackCopy } from "./preprocessor-fallback.js";
import { RACY_WINDOW_MS } from "../hashing/file-hash-cache.js";
import type { KeyHasher } from "../hashing/key-hasher.js";
import type { ManifestEntry } from "../storage/codec.js";
import { encodeEntry, rekeyEntry } from "../storage/codec.js";

/** Whether a miss preprocesses for the fallback key before compiling (`now`), or has the copy made later (`later`); see FallbackLater. */
interface FallbackTiming {
  now: boolean;
  /**
   * The source changed within a clock tick of the call (a generated file): direct mode cannot record what was compiled,
   * the preprocessed text can (ccache falls back to its preprocessor mode there too).
   */
  racy?: boolean;
  /** The key as preprocessor mode starts it (arguments without those only the preprocessor reads). */
  base: KeyHasher;
  later?: (copy: LaterCopy | undefined) => void;
}

export async function fallbackTiming(d: ModeDeps, dc: DirectCall): Promise<FallbackTiming | undefined> {
  const { call } = dc;
  const inv = call.inv;
  if (call.settings.recache || !call.settings.preprocessorFallback || !inv.preprocessedDeterminesOutputs || !inv.preprocessArgv) return undefined;
  const base = await baseKey(call.project.engine, d.hashes, call.request, call.compiler, inv, "preprocessor");
  const siblingKey = base.fork().add("sibling", inv.sourceFile).add("sourceHash", dc.sourceHash).digest();
  // A manifest without a match: something this call read changed since, and the text may still be the same. Only worth a
  // preprocessor run where idle copies are made: otherwise text digests have already served a comment edit, and no copy
  // of the older state waits under its text's key.
  const changed = call.settings.preprocessorFallbackCopies && d.manifests.get(call.storage, dc.manifestKey) !== undefined;
  // -MMD leaves files out: the preprocessing's complete list then replaces a scan that would cost as much.
  const scanned = inv.dependencies.scanArgv !== undefined;
  const source = await d.hashes.digestWithChangeTime(inv.sourceFile, dc.tokens);
  const racy = source !== undefined && changedSince(source, call.startedAt);
  if ((await d.later.sibling(siblingKey)) || changed || scanned || racy) {
    d.later.noteSibling(siblingKey);
    return { now: true, base, ...(racy ? { racy } : {}) };
  }
  return { now: false, base, later: d.later.register(siblingKey, call.settings.preprocessorFallbackCopies) };
}

/**
 * The copy of a stored silent miss under its preprocessed text's key, made
 * later: only while the source and every file the compile read still have
 * the content they had then (checked before and after preprocessing), so
 * the text is the one the entry was compiled from.
 */
export function laterCopy(d: ModeDeps, dc: DirectCall, entry: ManifestEntry, base: KeyHasher): LaterCopy {
  const { call } = dc;
  const unchanged = async (seen: SeenDigests) =>
    (await d.hashes.digest(call.inv.sourceFile, dc.tokens))?.hash === dc.sourceHash && (await matchManifest({ entries: [entry] }, d.hashes, call.request.env, dc.sharing, seen)) !== undefined;
  return {
    label: call.inv.sourceFile,
    async run(lowPriority, previous) {
      // The previous copy's closing check stands for this one's opening check while it is fresh (CopyChecks).
      const carried = previous && performance.now() - previous.atMs <= CARRY_CHECKS_MS ? new Map(previous.seen) : new Map();
      if (!(await unchanged(carried))) return;
      const fallback = await preprocessedFallbackKey(call.project.engine, d.hashes, d.limit, call.request, call.compiler, call.inv, { base, lowPriority });
      if (!fallback) return;
      const closing: CopyChecks = { seen: new Map(), atMs: performance.now() };
      if (!(await unchanged(closing.seen))) return;
      const stored = await d.hits.entry(call.storage, entry.resultKey);
      if (!stored || stored.stdout.length > 0 || stored.stderr.length > 0) return closing;
      // The stored blob under the text's key, its compressed body kept (compressing again cost as much as the first time).
      const blob = await readFallbackCopy(call.storage, entry.resultKey).catch(() => undefined);
      await storeFallbackCopy(call.storage, fallback.key, (blob && rekeyEntry(blob, entry.resultKey, fallback.key)) ?? (await encodeEntry(stored, fallback.key)));
      if (lowPriority) d.stats.fallbackCopyLater();
      call.log.debug("%s: fallback copy stored under %s", call.inv.sourceFile, fallback.key);
      return closing;
    },
  };
}


/** The files a dependency file lists, each with its content's hash now (undefined when one cannot be read). */
export async function hashListed(d: ModeDeps, dc: DirectCall, depText: string): Promise<Map<string, string> | undefined> {
  const out = new Map<string, string>();
  for (const path of parseDepFile(depText, dc.call.request.cwd)) {
    const digest = await d.hashes.digest(path, dc.tokens);
    if (!digest) return undefined;
    out.set(path, digest.hash);
  }
  return out;
}

/** Whether every file of `before` still has the content it had then. */
export async function sameHashes(d: ModeDeps, dc: DirectCall, before: ReadonlyMap<string, string>): Promise<boolean> {
  for (const [path, hash] of before) if ((await d.hashes.digest(path, dc.tokens))?.hash !== hash) return false;
  return true;
}

/**
 * Whether a file the compile read may have changed after the compile started.
 * Its timestamp may be earlier than the change: whole-second file systems
 * truncate it, and the kernel's timestamp clock lags the wall clock by up to
 * a tick; a change seen this close to the start counts as after it.
 */
export function changedSince(found: { changedAt: number; coarse: boolean }, compileStart: number): boolean {
  return found.changedAt > compileStart - (found.coarse ? RACY_WINDOW_MS : CLOCK_TICK_MS);
}

/**
 * How old the previous copy's closing check may be for the next copy to open
 * with it: the store of one copy and the start of the next, not a pause.
 */
const CARRY_CHECKS_MS = 250;

/** More than a kernel timer tick (1 to 10 ms). */
const CLOCK_TICK_MS = 20;
