import { basename } from "node:path";
import type { Call, CallResult } from "./call.js";
import type { ModeDeps } from "./mode-deps.js";
import type { CompileInvocation } from "./types.js";
import { baseKey } from "./cache-key.js";
import { parseDepFileWithEnv } from "./dep-file.js";
import { directResultKey, findInManifest, recordInManifest, today } from "./direct-mode.js";
import { pathSharing } from "./base-dirs.js";
import { preprocessedFallbackKey } from "./preprocessor-fallback.js";
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
    const hit = await d.hits.tryHit(call, match.resultKey, "direct");
    if (hit) return hit;
  }
  const fallbackKey = call.settings.recache || !call.settings.preprocessorFallback ? undefined : await preprocessedFallbackKey(call.project.engine, d.hashes, d.limit, call.request, call.compiler, inv);
  if (fallbackKey) {
    // Diagnostics quote source lines, which the preprocessed text does not hold: only silent entries are served.
    const hit = await d.hits.tryHit(call, fallbackKey, "preprocessor", true);
    if (hit) return hit;
  }
  return d.misses.compileAndStore(call, manifestKey, async (depText, compileStart, outputs) => {
    const files = await collectIncludes(d, call, depText, compileStart, tokens);
    if (!files) return undefined;
    const date = files.dated || source.tokens.some((t) => markerEffect(inv, t) === "date") ? today() : undefined;
    const list = sharing ? files.list.map((f) => ({ ...f, path: sharing.relative(f.path) })) : files.list;
    // The outputs record where this checkout is: only this checkout may be served them.
    const bound = sharing && (files.found.some((t) => sharing.fileTokens.includes(t)) || source.tokens.some((t) => sharing.fileTokens.includes(t)) || sharing.recordedIn(outputs));
    const root = bound ? sharing.root : undefined;
    const resultKey = directResultKey(manifestKey, list, date, files.env, root);
    const entry: ManifestEntry = { files: list, resultKey, ...(date ? { date } : {}), ...(files.env.length ? { env: files.env } : {}), ...(root !== undefined ? { root } : {}) };
    const after = async () => {
      await recordInManifest(call.storage, manifestKey, entry, d.manifests);
      await d.misses.record(call, "direct", source.hash, { manifestKey, entry });
    };
    return { resultKey, alsoUnder: fallbackKey, after };
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
    if (!found || found.changedAt >= compileStart) {
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
