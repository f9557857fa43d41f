import { basename } from "node:path";
import type { Call, CallResult } from "./call.js";
import type { ModeDeps } from "./mode-deps.js";
import type { Claim } from "./store-miss.js";
import type { CompileInvocation } from "./types.js";
import { baseKey } from "./cache-key.js";
import { parseDepFileWithEnv, type DepFileContents } from "./dep-file.js";
import { directResultKey, findInManifest, matchManifestByText, recordInManifest, today, type TextMatch } from "./direct-mode.js";
import { textReadingFor } from "./text-reading.js";
import type { TextReading } from "../hashing/text-digest.js";
import type { FileDigest } from "../hashing/file-hash-cache.js";
import type { CompiledInputs, ReadIdentity } from "./hooks.js";
import { pathSharing, type PathSharing, type ReplayedParts } from "./base-dirs.js";
import { preprocessedFallbackKey, readFallbackCopy } from "./preprocessor-fallback.js";
import { changedSince, fallbackTiming, hashListed, laterCopy, sameHashes } from "./fallback-timing.js";
import { rekeyEntry, type ManifestEntry } from "../storage/codec.js";
import { absentFacts } from "./direct-absent.js";
import { servePreprocessorMode } from "./serve-preprocessed.js";
import { PROBE_TOKEN } from "../hermetic/has-include.js";
import { preprocessedKeyAfterCompile } from "./probe-macro-store.js";

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
  // PROBE_TOKEN: files that probe with `__has_include` are known when the entry is stored, without reading them again.
  const tokens = [...inv.volatileMarkers.map((m) => m.token), ...(sharing?.fileTokens ?? []), PROBE_TOKEN];
  const source = await d.hashes.digest(inv.sourceFile, tokens);
  if (!source) return d.outcomes.local(inv.compileArgv[0]!, "no-source", call.started, call.request, call.compiler);
  if (isUncacheable(inv, source.tokens)) return d.outcomes.local(inv.compileArgv[0]!, "time-macro", call.started, call.request, call.compiler);

  const key = await baseKey(call.project.engine, d.hashes, call.request, call.compiler, inv, "direct", sharing);
  const manifestKey = key.add("source", sharing ? sharing.relative(inv.sourceFile) : inv.sourceFile).add("sourceHash", source.hash).digest();
  call.log.debug("%s: direct mode, manifest key %s", inv.sourceFile, manifestKey);
  await d.misses.pending(manifestKey);
  const match = await findInManifest(call.storage, manifestKey, d.manifests, d.hashes, call.request.env, (err) => d.hits.rejected("manifest", manifestKey, err), sharing);
  if (match?.preprocessor && inv.preprocessArgv) {
    // What the call reads depends on something no manifest can watch (`__has_include(MACRO)`): its preprocessed text decides.
    d.stats.preprocessorInstead("has-include-macro");
    return servePreprocessorMode(d, call);
  }
  if (match) {
    const hit = await d.hits.tryHit(call, match.resultKey, "direct", false, sharing ? undefined : { match, sourceHash: source.hash, tokens, headerTokens: [] }, sharing);
    if (hit) return hit;
  }
  const reading = call.settings.textDigests ? textReadingFor(call.project.engine, call.compiler.family, inv) : undefined;
  const direct: DirectCall = { call, manifestKey, sourceHash: source.hash, sourceTokens: source.tokens, tokens, sharing, ...(reading ? { reading } : {}) };
  if (!match && reading) {
    // Something this call read changed since: maybe only where its text does not show it (a header's comment).
    const byText = await serveByText(d, direct, reading);
    if (byText) return byText;
  }
  const when = await fallbackTiming(d, direct);
  const fallback = when?.now ? await preprocessedFallbackKey(call.project.engine, d.hashes, d.limit, call.request, call.compiler, inv, { base: when.base }) : undefined;
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
  // A racy source: what the preprocessing read, to check after the compile that the compile read the same.
  const preprocessed = when?.racy && known ? await hashListed(d, direct, known.text) : undefined;
  const copyLater = when && !when.now ? when.later : undefined;
  try {
    return await d.misses.compileAndStore(
      call,
      manifestKey,
      async (depText, compileStart, outputs, run, identities, depContents) => {
        const stored = sharing?.stored({ outputs, stdout: run.stdout, stderr: run.stderr }) ?? { outputs, stdout: run.stdout, stderr: run.stderr };
        const silent = run.stdout.length === 0 && run.stderr.length === 0;
        // Text digests only for a silent compile: diagnostics quote source lines, comments included.
        // The lookup's preprocessing lists what was read: a tap's digests go with it only when its job was made from that list.
        const given = known && run.inputs?.listedBy !== "preprocessing" ? undefined : run.inputs;
        const listed = known ? { text: known.text } : { text: depText, ...(depContents ? { contents: depContents } : {}) };
        const made = await directEntry(d, direct, listed, known?.since ?? compileStart, stored, silent, given, identities);
        if (made?.preprocessor) {
          // A file read probes through a macro: the next call uses preprocessor mode; keep the result where it looks.
          await recordInManifest(call.storage, manifestKey, made, d.manifests);
          const resultKey = await preprocessedKeyAfterCompile(d, direct, made);
          return resultKey ? { resultKey, after: () => d.misses.record(call, "preprocessor", undefined) } : undefined;
        }
        if (!made) {
          // Direct mode cannot record it (a file changed within a clock tick of the compile): the preprocessed text's key
          // can, when nothing the preprocessing read changed since (only silent entries are served through it).
          const racyButSame = fallback && silent && preprocessed && (await sameHashes(d, direct, preprocessed));
          if (racyButSame) call.log.debug("%s: a file changed just before the compile; stored under the preprocessed text's key only", inv.sourceFile);
          return racyButSame ? { resultKey: fallback.key, ...(sharing ? { stored: (parts) => sharing.stored(parts) } : {}) } : undefined;
        }
        const after = async () => {
          await recordDirect(d, direct, made);
          if (silent && when) copyLater?.(laterCopy(d, direct, made, when.base));
        };
        return { resultKey: made.resultKey, alsoUnder: fallback?.key, after, ...(sharing ? { stored: (parts) => sharing.stored(parts) } : {}) };
      },
      // Without baseDirs the plan never reads an output's bytes: the largest may be copied by the kernel.
      { skipScan: known !== undefined, digestTokens: tokens, copyLargest: !sharing, ...(claim ? { claim } : {}), ...(known ? { preprocessDeps: known.text } : {}) },
    );
  } finally {
    // Stored or not, a sibling waiting for this miss may go on once the store is over.
    if (copyLater) void (d.misses.pending(manifestKey) ?? Promise.resolve()).finally(() => copyLater(undefined));
  }
}

/** What a direct-mode call's manifest entry is made of, besides the files it read. */
export interface DirectCall {
  call: Call;
  manifestKey: string;
  sourceHash: string;
  sourceTokens: string[];
  tokens: string[];
  sharing: PathSharing | undefined;
  /** How files are read for their text digests, when the call's plugin says the text determines the outputs. */
  reading?: TextReading;
}

/** A compile's dependency file: its text, and that text parsed when a tap handed it over so (MissCompileResult.depFile). */
interface ListedDeps {
  text: string | undefined;
  contents?: DepFileContents;
}

/**
 * The manifest entry (and its result key) of a compile that read what `listed.text` lists (`listed.contents`: that text parsed,
 * when a tap handed it over so); undefined when it must not be recorded.
 * `replayed`: the outputs and the streams a hit replays, as stored (checked for where this checkout is).
 */
async function directEntry(
  d: ModeDeps,
  dc: DirectCall,
  listed: ListedDeps,
  since: number,
  replayed: ReplayedParts,
  silent: boolean,
  given: CompiledInputs | undefined,
  identities?: ReadonlyMap<string, ReadIdentity>,
): Promise<ManifestEntry | undefined> {
  const { call, sharing } = dc;
  const files = await collectIncludes(d, dc, listed, since, silent ? dc.reading : undefined, given, identities);
  if (!files) return undefined;
  const read = new Map([[call.inv.sourceFile, dc.sourceHash], ...files.list.map((f): [string, string] => [f.path, f.hash])]);
  const probing = new Set(files.probing);
  if (dc.sourceTokens.includes(PROBE_TOKEN)) probing.add(call.inv.sourceFile);
  const absent = await absentFacts(d, call, read, probing, since, dc.tokens);
  if (!absent) return undefined;
  if (absent.unresolvableProbe) {
    call.log.debug("%s: %s; preprocessor mode for this call", call.inv.sourceFile, absent.unresolvableProbe);
    const resultKey = directResultKey(dc.manifestKey, files.list, undefined, files.env, undefined, true);
    return { files: files.list, resultKey, ...(files.env.length ? { env: files.env } : {}), preprocessor: true };
  }
  files.list.push(...absent.probeFiles);
  const date = files.dated || dc.sourceTokens.some((t) => markerEffect(call.inv, t) === "date") ? today() : undefined;
  const list = sharing ? files.list.map((f) => ({ ...f, path: sharing.relative(f.path) })) : files.list;
  const guards = sharing ? absent.guards.map((g) => ({ ...g, dir: sharing.relative(g.dir) })) : absent.guards;
  // The outputs (or the streams a hit replays) record where this checkout is: only this checkout may be served them.
  const recorded = sharing?.boundBy(replayed);
  const bound = sharing && (files.found.some((t) => sharing.fileTokens.includes(t)) || dc.sourceTokens.some((t) => sharing.fileTokens.includes(t)) || recorded);
  const root = bound ? sharing.root : undefined;
  if (root !== undefined) {
    const why = recorded ? "an output or stream names it, or the compile could load code that reads it" : "a file read records its own path";
    call.log.debug("%s: entry kept to the checkout %s (%s)", basename(call.inv.sourceFile), root, why);
  }
  const resultKey = directResultKey(dc.manifestKey, list, date, files.env, root);
  return {
    files: list,
    resultKey,
    ...(date ? { date } : {}),
    ...(files.env.length ? { env: files.env } : {}),
    ...(root !== undefined ? { root } : {}),
    ...(guards.length ? { absent: guards } : {}),
  };
}

async function recordDirect(d: ModeDeps, dc: DirectCall, entry: ManifestEntry): Promise<void> {
  await recordInManifest(dc.call.storage, dc.manifestKey, entry, d.manifests);
  await d.misses.record(dc.call, "direct", dc.sourceHash, { manifestKey: dc.manifestKey, entry });
  // The next identical call would be a direct hit on this entry: let the client answer it. Not during the build that
  // compiles it (writing the index entry and a copy of each output costs each miss more than its bookkeeping):
  // once the daemon is idle; until then such a call is answered by the daemon, which indexes it then.
  if (!dc.sharing) d.later.whenIdle(() => d.hits.indexStored(dc.call, entry.resultKey, { match: entry, sourceHash: dc.sourceHash, tokens: dc.tokens, headerTokens: dc.tokens }, { keepExisting: true }));
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
    // Served through the fallback: a silent entry.
    const made = await directEntry(d, dc, { text: depText }, since, stored, true, undefined);
    if (!made || made.preprocessor) return;
    // The copy's blob under the direct key, its compressed body kept (compressing the object again cost a few ms per call).
    const blob = dc.sharing ? undefined : await readFallbackCopy(call.storage, fallbackKey).catch(() => undefined);
    const rekeyed = blob && rekeyEntry(blob, fallbackKey, made.resultKey);
    if (rekeyed) {
      await call.storage.write("result", made.resultKey, rekeyed);
      d.hits.remember(call.storage, made.resultKey, stored);
    } else await d.misses.writeEntry(call, made.resultKey, stored);
    await recordDirect(d, dc, made);
  });
}

/**
 * A hit on an entry whose files changed only where their text digests do
 * not show it (a comment in a header). Only silent entries carry text
 * digests, and only they are served. After the answer, the entry is stored
 * under the files' new content too, so the next identical call is a plain
 * direct hit (and the native client's).
 */
async function serveByText(d: ModeDeps, dc: DirectCall, reading: TextReading): Promise<CallResult | undefined> {
  const { call, sharing } = dc;
  const manifest = d.manifests.get(call.storage, dc.manifestKey);
  if (!manifest || call.settings.recache) return undefined;
  const match = await matchManifestByText(manifest, d.hashes, call.request.env, reading, dc.tokens, (found) => isUncacheable(call.inv, found), sharing);
  if (!match) return undefined;
  // Text digests are recorded for silent compiles only; checked again here (a shared cache may hold anything).
  const stored = await d.hits.entry(call.storage, match.entry.resultKey);
  if (!stored || stored.stdout.length > 0 || stored.stderr.length > 0) return undefined;
  const hit = await d.hits.tryHit(call, match.entry.resultKey, "direct", false, undefined, sharing);
  if (!hit) return undefined;
  d.stats.directTextHit();
  call.log.debug("%s: hit by text digests (%s changed only where the text does not show it)", call.inv.sourceFile, match.changed.join(", "));
  recordTextHit(d, dc, match);
  return hit;
}

function recordTextHit(d: ModeDeps, dc: DirectCall, match: TextMatch): void {
  const { call } = dc;
  const { entry, files } = match;
  d.misses.later(dc.manifestKey, async () => {
    const served = d.hits.remembered(call.storage, entry.resultKey);
    if (!served) return;
    const resultKey = directResultKey(dc.manifestKey, files, entry.date, entry.env, entry.root);
    const made: ManifestEntry = { ...entry, files, resultKey };
    await d.misses.writeEntry(call, resultKey, served);
    await recordDirect(d, dc, made);
  });
}

/**
 * The files the compile read, from its dependency file, with their hashes.
 * Undefined when direct mode must not record this compile: a file changed
 * since the compiler started, the source is not the one keyed, or a file
 * uses a time macro. `identities`: what the compile saw of each file it
 * read (`CompileReads`); a file whose content is remembered under that
 * identity is not stat'ed again.
 */
async function collectIncludes(
  d: ModeDeps,
  dc: DirectCall,
  listed: ListedDeps,
  compileStart: number,
  reading: TextReading | undefined,
  given: CompiledInputs | undefined,
  identities: ReadonlyMap<string, ReadIdentity> | undefined,
): Promise<{ list: ManifestEntry["files"]; dated: boolean; env: EnvDep[]; found: string[]; probing: string[] } | undefined> {
  const { call, tokens } = dc;
  const deps = call.inv.dependencies;
  const carried = givenDigests(dc, given);
  if (carried === "other-source") {
    d.logger.info("%s changed before its compile; not recording it for direct mode", call.inv.sourceFile);
    return undefined;
  }
  let paths: string[] = [];
  let env: EnvDep[] = [];
  if (!deps.none) {
    if (listed.text === undefined) return undefined;
    const parsed = listed.contents ?? parseDepFileWithEnv(listed.text, call.request.cwd);
    paths = parsed.files.filter((p) => p !== call.inv.sourceFile);
    env = parsed.env;
  }
  const list: ManifestEntry["files"] = [];
  const seen = new Set<string>();
  let dated = false;
  const probing: string[] = [];
  let embeds = false;
  for (const path of carried ? paths : [call.inv.sourceFile, ...paths]) {
    // The source's content is in the manifest key: only the files it reads are compared by text.
    const digest = carriedDigest(d, carried, path, tokens, reading) ?? (await digestUnchanged(d, dc, path, compileStart, reading, identities?.get(path)));
    if (!digest) return undefined;
    if (path === call.inv.sourceFile) continue;
    if (isUncacheable(call.inv, digest.tokens)) {
      d.stats.error("time-macro-in-header");
      return undefined;
    }
    if (digest.tokens.some((t) => markerEffect(call.inv, t) === "date")) dated = true;
    for (const t of digest.tokens) seen.add(t);
    if (digest.tokens.includes(PROBE_TOKEN)) probing.push(path);
    if (digest.text?.embeds) embeds = true;
    list.push({ path, hash: digest.hash, size: digest.size, ...(digest.text?.hash !== undefined ? { text: digest.text.hash } : {}) });
  }
  // A file that brings in another file's bytes (#embed): every file is compared by its content.
  const kept = embeds ? list.map(({ path, hash, size }) => ({ path, hash, size })) : list;
  return { list: kept, dated, env, found: [...seen], probing };
}

/** A file's digest, read here: undefined (with the reason logged) when it is gone or changed since the compile started. */
async function digestUnchanged(
  d: ModeDeps,
  dc: DirectCall,
  path: string,
  compileStart: number,
  reading: TextReading | undefined,
  read: ReadIdentity | undefined,
): Promise<FileDigest | undefined> {
  const { call, tokens } = dc;
  const readingOf = path === call.inv.sourceFile ? undefined : reading;
  const found = (read && d.hashes.knownAsRead(path, read, tokens, readingOf)) || (await d.hashes.digestWithChangeTime(path, tokens, readingOf));
  // The source changed between its hashing for the key and the compile: the entry would pair that key with other bytes.
  if (!found || changedSince(found, compileStart) || (path === call.inv.sourceFile && found.digest.hash !== dc.sourceHash)) {
    d.logger.info("%s changed during the compile of %s; not recording it for direct mode", path, basename(call.inv.sourceFile));
    return undefined;
  }
  return found.digest;
}

/**
 * The digests a `compileMiss` tap took of what its compile read, when they
 * serve this call's store: taken with every token the store looks for, and
 * of the source the key was made of ("other-source": the compile read
 * another, so nothing may be recorded). Undefined: none to use.
 */
function givenDigests(dc: DirectCall, given: CompiledInputs | undefined): ReadonlyMap<string, FileDigest> | "other-source" | undefined {
  if (!given || !dc.tokens.every((t) => given.tokens.includes(t))) return undefined;
  const source = given.digests.get(dc.call.inv.sourceFile);
  if (!source) return undefined;
  return source.hash === dc.sourceHash ? given.digests : "other-source";
}

/**
 * A digest the compile's tap took (the bytes the compile saw, whatever the
 * file holds now), with the store's tokens only; with `reading`, only when
 * the text of those bytes is known. Undefined: the store takes its own.
 */
function carriedDigest(d: ModeDeps, carried: ReadonlyMap<string, FileDigest> | undefined, path: string, tokens: readonly string[], reading: TextReading | undefined): FileDigest | undefined {
  const digest = carried?.get(path);
  if (!digest) return undefined;
  const text = reading ? d.hashes.knownText(digest.hash, reading) : undefined;
  if (reading && !text) return undefined;
  return { hash: digest.hash, size: digest.size, tokens: digest.tokens.filter((t) => tokens.includes(t)), ...(text ? { text } : {}) };
}
