import { basename } from "node:path";
import type { Call, CallResult } from "./call.js";
import type { ModeDeps } from "./mode-deps.js";
import type { Claim } from "./store-miss.js";
import type { CompileInvocation } from "./types.js";
import { baseKey } from "./cache-key.js";
import { parseDepFileWithEnv } from "./dep-file.js";
import { directResultKey, findInManifest, recordInManifest, today } from "./direct-mode.js";
import { pathSharing, type PathSharing, type ReplayedParts } from "./base-dirs.js";
import { preprocessedFallbackKey } from "./preprocessor-fallback.js";
import { RACY_WINDOW_MS } from "../hashing/file-hash-cache.js";
import type { ManifestEntry } from "../storage/codec.js";

type EnvDep = NonNullable<ManifestEntry["env"]>[number];

function markerEffect(inv: CompileInvocation, token: string) {
  return inv.volatileMarkers.find((m) => m.token === token)?.effect;
}

function isUncacheable(inv: CompileInvocation, found: string[]): boolean {
  return found.some((t) => markerEffect(inv, t) === "uncacheable");
}

/**
 * Direct mode: the key is over the source and the arguments; a manifest
 * names the files each earlier compile read and the result their contents
 * gave. A miss may still hit through the preprocessed text's key.
 */
export async function serveDirectMode(d: ModeDeps, call: Call): Promise<CallResult> {
  const { inv } = call;
  // baseDirs: paths under a base directory are keyed relative to it.
  const sharing = pathSharing(call.settings.baseDirs, call.request.cwd, inv);
  const tokens = [...inv.volatileMarkers.map((m) => m.token), ...(sharing?.fileTokens ?? [])];
  const source = await d.hashes.digest(inv.sourceFile, tokens);
  if (!source) return d.outcomes.local(inv.compileArgv[0]!, "no-source", call.started, call.request, call.compiler);
  if (isUncacheable(inv, source.tokens)) return d.outcomes.local(inv.compileArgv[0]!, "time-macro", call.started, call.request, call.compiler);

  const key = await baseKey(call.project.engine, d.hashes, call.request, call.compiler, inv, "direct", sharing);
  const manifestKey = key.add("source", sharing ? sharing.relative(inv.sourceFile) : inv.sourceFile).add("sourceHash", source.hash).digest();
  call.log.debug("%s: direct mode, manifest key %s", inv.sourceFile, manifestKey);
  await d.misses.pending(manifestKey);
  const match = await findInManifest(call.storage, manifestKey, d.manifests, d.hashes, call.request.env, (err) => d.hits.rejected("manifest", manifestKey, err), sharing);
  if (match) {
    const hit = await d.hits.tryHit(call, match.resultKey, "direct", false, sharing ? undefined : { match, sourceHash: source.hash, tokens, headerTokens: [] }, sharing);
    if (hit) return hit;
  }
  const fallback = call.settings.recache || !call.settings.preprocessorFallback ? undefined : await preprocessedFallbackKey(call.project.engine, d.hashes, d.limit, call.request, call.compiler, inv);
  const direct: DirectCall = { call, manifestKey, sourceHash: source.hash, sourceTokens: source.tokens, tokens, sharing };
  let claim: Claim | undefined;
  if (fallback) {
    // The same text may be compiling for another call right now (CMake's shared and static targets in step): wait for it,
    // or claim it, so that such a call waits for this one.
    const other = d.misses.pending(fallback.key);
    if (other) await other;
    else claim = d.misses.claim(fallback.key);
    try {
      // Diagnostics quote source lines, which the preprocessed text does not hold: only silent entries are served.
      const hit = await d.hits.tryHit(call, fallback.key, "preprocessor", true);
      if (hit) {
        claim?.release();
        if (fallback.depText !== undefined) recordFallbackHit(d, direct, fallback.key, fallback.depText, fallback.startedAt);
        return hit;
      }
    } catch (err) {
      claim?.release();
      throw err;
    }
  }
  // The fallback's preprocessing listed every file read: no second pass to learn what -MMD leaves out.
  const known = fallback?.depText !== undefined ? { text: fallback.depText, since: fallback.startedAt } : undefined;
  return d.misses.compileAndStore(
    call,
    manifestKey,
    async (depText, compileStart, outputs, run) => {
      const stored = sharing?.stored({ outputs, stdout: run.stdout, stderr: run.stderr }) ?? { outputs, stdout: run.stdout, stderr: run.stderr };
      const made = await directEntry(d, direct, known?.text ?? depText, known?.since ?? compileStart, stored);
      if (!made) return undefined;
      return { resultKey: made.resultKey, alsoUnder: fallback?.key, after: () => recordDirect(d, direct, made), ...(sharing ? { stored: (parts) => sharing.stored(parts) } : {}) };
    },
    { skipScan: known !== undefined, ...(claim ? { claim } : {}), ...(known ? { preprocessDeps: known.text } : {}) },
  );
}

/** What a direct-mode call's manifest entry is made of, besides the files it read. */
interface DirectCall {
  call: Call;
  manifestKey: string;
  sourceHash: string;
  sourceTokens: string[];
  tokens: string[];
  sharing: PathSharing | undefined;
}

/**
 * The manifest entry (and its result key) of a compile that read what `depText` lists; undefined when it must not be recorded.
 * `replayed`: the outputs and the streams a hit replays, as stored (checked for where this checkout is).
 */
async function directEntry(d: ModeDeps, dc: DirectCall, depText: string | undefined, since: number, replayed: ReplayedParts): Promise<ManifestEntry | undefined> {
  const { call, sharing } = dc;
  const files = await collectIncludes(d, call, depText, since, dc.tokens);
  if (!files) return undefined;
  const date = files.dated || dc.sourceTokens.some((t) => markerEffect(call.inv, t) === "date") ? today() : undefined;
  const list = sharing ? files.list.map((f) => ({ ...f, path: sharing.relative(f.path) })) : files.list;
  // The outputs (or the streams a hit replays) record where this checkout is: only this checkout may be served them.
  const recorded = sharing?.boundBy(replayed);
  const bound = sharing && (files.found.some((t) => sharing.fileTokens.includes(t)) || dc.sourceTokens.some((t) => sharing.fileTokens.includes(t)) || recorded);
  const root = bound ? sharing.root : undefined;
  if (root !== undefined) {
    const why = recorded ? "an output or stream names it, or the compile could load code that reads it" : "a file read records its own path";
    call.log.debug("%s: entry kept to the checkout %s (%s)", basename(call.inv.sourceFile), root, why);
  }
  const resultKey = directResultKey(dc.manifestKey, list, date, files.env, root);
  return { files: list, resultKey, ...(date ? { date } : {}), ...(files.env.length ? { env: files.env } : {}), ...(root !== undefined ? { root } : {}) };
}

async function recordDirect(d: ModeDeps, dc: DirectCall, entry: ManifestEntry): Promise<void> {
  await recordInManifest(dc.call.storage, dc.manifestKey, entry, d.manifests);
  await d.misses.record(dc.call, "direct", dc.sourceHash, { manifestKey: dc.manifestKey, entry });
  // The next identical call would be a direct hit on this entry: let the client answer it.
  if (!dc.sharing) d.hits.indexStored(dc.call, entry.resultKey, { match: entry, sourceHash: dc.sourceHash, tokens: dc.tokens, headerTokens: dc.tokens });
}

/**
 * After a hit through the preprocessed text's key, the entry is stored under
 * its direct-mode key too, and the manifest names it: the next identical
 * call hits in direct mode, without preprocessing. After the answer.
 */
function recordFallbackHit(d: ModeDeps, dc: DirectCall, fallbackKey: string, depText: string, since: number): void {
  const { call } = dc;
  d.misses.later(dc.manifestKey, async () => {
    const served = d.hits.remembered(call.storage, fallbackKey);
    if (!served) return;
    const stored = dc.sharing?.stored(served) ?? served;
    const made = await directEntry(d, dc, depText, since, stored);
    if (!made) return;
    await d.misses.writeEntry(call, made.resultKey, stored);
    await recordDirect(d, dc, made);
  });
}

/**
 * The files the compile read, from its dependency file, with their hashes.
 * Undefined when direct mode must not record this compile: a file changed
 * since the compiler started, or one uses a time macro.
 */
async function collectIncludes(
  d: ModeDeps,
  call: Call,
  depText: string | undefined,
  compileStart: number,
  tokens: string[],
): Promise<{ list: ManifestEntry["files"]; dated: boolean; env: EnvDep[]; found: string[] } | undefined> {
  const deps = call.inv.dependencies;
  let paths: string[] = [];
  let env: EnvDep[] = [];
  if (!deps.none) {
    if (depText === undefined) return undefined;
    const parsed = parseDepFileWithEnv(depText, call.request.cwd);
    paths = parsed.files.filter((p) => p !== call.inv.sourceFile);
    env = parsed.env;
  }
  const list: ManifestEntry["files"] = [];
  const seen = new Set<string>();
  let dated = false;
  for (const path of [call.inv.sourceFile, ...paths]) {
    const found = await d.hashes.digestWithChangeTime(path, tokens);
    if (!found || changedSince(found, compileStart)) {
      d.logger.info("%s changed during the compile of %s; not recording it for direct mode", path, basename(call.inv.sourceFile));
      return undefined;
    }
    if (path === call.inv.sourceFile) continue;
    const digest = found.digest;
    if (isUncacheable(call.inv, digest.tokens)) {
      d.stats.error("time-macro-in-header");
      return undefined;
    }
    if (digest.tokens.some((t) => markerEffect(call.inv, t) === "date")) dated = true;
    for (const t of digest.tokens) seen.add(t);
    list.push({ path, hash: digest.hash, size: digest.size });
  }
  return { list, dated, env, found: [...seen] };
}

/**
 * Whether a file the compile read may have changed after the compile started.
 * Its timestamp may be earlier than the change: whole-second file systems
 * truncate it, and the kernel's timestamp clock lags the wall clock by up to
 * a tick; a change seen this close to the start counts as after it.
 */
function changedSince(found: { changedAt: number; coarse: boolean }, compileStart: number): boolean {
  return found.changedAt > compileStart - (found.coarse ? RACY_WINDOW_MS : CLOCK_TICK_MS);
}

/** More than a kernel timer tick (1 to 10 ms). */
const CLOCK_TICK_MS = 20;
