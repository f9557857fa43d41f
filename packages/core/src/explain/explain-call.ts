import { lstatSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type pLimit from "p-limit";
import { baseKey } from "../engine/cache-key.js";
import { pathSharing, type PathSharing } from "../engine/base-dirs.js";
import { findInManifest, ManifestMemo, matchManifestByText, readManifest, today } from "../engine/direct-mode.js";
import { textReadingFor } from "../engine/text-reading.js";
import { preprocessedFallbackKey, readFallbackCopy, runPreprocessor } from "../engine/preprocessor-fallback.js";
import { runCompiler } from "../engine/run-compiler.js";
import { stillAbsent } from "../engine/absent-guards.js";
import type { ManifestEntry } from "../storage/codec.js";
import type { CompileInvocation, CompileRequest, CompilerInfo, ParseResult } from "../engine/types.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import { hashBytes } from "../hashing/key-hasher.js";
import type { SettingsLoader } from "../config/load-settings.js";
import type { Settings } from "../config/schema.js";
import type { Project } from "../daemon/project-engines.js";
import type { BlobKind, CacheStorage } from "../storage/cache-storage.js";
import { describeDifferences, shortPath } from "./compare-descriptions.js";
import { readDescriptions } from "./description-records.js";
import { describeCall, type DescribedFile, type KeyDescription } from "./key-description.js";

/** What `reprise --explain` answers. */
export interface ExplainAnswer {
  result: "hit" | "miss" | "not-cacheable";
  /** One line: the verdict and the source. */
  summary: string;
  /** For a miss, what differs from the nearest recorded entry of the same source and compiler. */
  reasons: string[];
}

/** What the explainer borrows from the compile service: the same steps, without their side effects. */
export interface ExplainDeps {
  settings: SettingsLoader;
  projects: { for(settings: Settings, cwd: string): Promise<Project> };
  hashes: FileHashCache;
  limit: ReturnType<typeof pLimit>;
  resolveCompiler(request: CompileRequest): string | undefined;
  parse(project: Project, request: CompileRequest, compiler: CompilerInfo, compilerPath: string): ParseResult;
  /** A store of `key` still running after its call was answered. */
  pending(key: string): Promise<void> | undefined;
  /** Whether the service holds the entry of `resultKey` in memory. */
  remembered(storage: CacheStorage, resultKey: string): boolean;
}

interface Looked {
  settings: Settings;
  storage: CacheStorage;
  request: CompileRequest;
  compilerPath: string;
  inv: CompileInvocation;
  now: KeyDescription;
  hit: boolean;
  /** A direct hit by text digests: the files that changed only where their text does not show it. */
  byText?: string[];
  /** baseDirs in use: manifest paths are relative to the base directory. */
  sharing?: PathSharing;
}

/**
 * Says whether a call would hit, without compiling, writing outputs, storing
 * or counting anything; for a miss, compares its key inputs with the recorded
 * descriptions of earlier entries of the same source and compiler and names
 * what differs from the nearest one.
 */
export async function explainCall(d: ExplainDeps, request: CompileRequest): Promise<ExplainAnswer> {
  const compilerPath = d.resolveCompiler(request);
  if (!compilerPath) return notCacheable(`the compiler ${request.argv[0] ?? ""} was not found on PATH`);
  const settings = await d.settings.load(request.cwd, request.env);
  if (settings.disable) return notCacheable("Reprise is disabled for this call (REPRISE_DISABLE or disable in the config)");
  const project = await d.projects.for(settings, request.cwd);
  const compiler = await project.detector.detect(compilerPath, request.env);
  if (!compiler) return notCacheable(`${compilerPath} is not a compiler any loaded plugin handles (unknown-compiler)`);
  const parsed = d.parse(project, request, compiler, compilerPath);
  if (!parsed.cacheable) return notCacheable(`this call is not cacheable (${parsed.reason}${parsed.detail ? `: ${parsed.detail}` : ""})`);
  const inv = parsed.invocation;
  const notRegular = inv.outputs.find((o) => lstatSync(o.path, { throwIfNoEntry: false })?.isFile() === false);
  if (notRegular) return notCacheable(`the output ${notRegular.path} is not a regular file (output-not-regular-file)`);
  const real = await project.storages.forSettings(settings);
  const storage = lookupOnly(real);
  const preprocessable = inv.preprocessArgv !== undefined || inv.dependencies.none === true;
  const mode = settings.keyMode === "preprocessor" && preprocessable ? "preprocessor" : "direct";
  // baseDirs: direct mode keys paths under the base directory relative to it, as the compile service does.
  const sharing = mode === "direct" ? pathSharing(settings.baseDirs, request.cwd, inv) : undefined;
  const tokens = [...inv.volatileMarkers.map((m) => m.token), ...(sharing?.fileTokens ?? [])];
  const source = await d.hashes.digest(inv.sourceFile, tokens);
  if (!source) return notCacheable(`the source ${inv.sourceFile} cannot be read`);
  const volatile = inv.volatileMarkers.find((m) => m.effect === "uncacheable" && source.tokens.includes(m.token));
  if (mode === "direct" && volatile) return notCacheable(`the source uses ${volatile.token}, which makes every compile differ (time-macro)`);
  const extra = await digestAll(d.hashes, inv.extraInputFiles);
  const now = describeCall(request, compiler.path, compiler, inv, mode, source.hash, extra);
  const key = await baseKey(project.engine, d.hashes, request, compiler, inv, mode, sharing);
  const has = async (resultKey: string) => d.remembered(real, resultKey) || (await storage.read("result", resultKey)) !== undefined;
  let hit: boolean;
  let byText: string[] | undefined;
  if (mode === "direct") {
    const manifestKey = key.add("source", sharing ? sharing.relative(inv.sourceFile) : inv.sourceFile).add("sourceHash", source.hash).digest();
    await d.pending(manifestKey);
    const match = await findInManifest(storage, manifestKey, new ManifestMemo(), d.hashes, request.env, undefined, sharing);
    if (match?.preprocessor && inv.preprocessArgv) {
      // A file it reads probes `__has_include(MACRO)`: the call uses preprocessor mode, whose key is the text's.
      const pre = await preprocessed(d, inv, request);
      const ppKey = pre && (await baseKey(project.engine, d.hashes, request, compiler, inv, "preprocessor")).add("preprocessed", hashBytes(pre.stdout)).add("ppStderr", pre.stderr).digest();
      if (ppKey) await d.pending(ppKey);
      const ppHit = !!ppKey && !settings.recache && (await has(ppKey));
      return answer(d, { settings, storage, request, compilerPath: compiler.path, inv, now: { ...now, mode: "preprocessor" }, hit: ppHit });
    }
    hit = !!match && !settings.recache && (await has(match.resultKey));
    const reading = settings.textDigests ? textReadingFor(project.engine, compiler.family, inv) : undefined;
    if (!hit && !settings.recache && reading) {
      // As the compile service does next: an entry whose files changed only where their text does not show it.
      const manifest = await readManifest(storage, manifestKey);
      const uncacheable = (found: string[]) => inv.volatileMarkers.some((m) => m.effect === "uncacheable" && found.includes(m.token));
      const text = manifest && (await matchManifestByText(manifest, d.hashes, request.env, reading, tokens, uncacheable, sharing));
      if (text && (await has(text.entry.resultKey))) {
        hit = true;
        byText = text.changed;
      }
    }
    if (!hit && !settings.recache && settings.preprocessorFallback) {
      // A direct-mode miss looks up the preprocessed text's key before compiling: a silent copy there is served.
      const fallbackKey = (await preprocessedFallbackKey(project.engine, d.hashes, d.limit, request, compiler, inv))?.key;
      if (fallbackKey) {
        await d.pending(fallbackKey);
        hit = d.remembered(real, fallbackKey) || (await readFallbackCopy(storage, fallbackKey)) !== undefined;
      }
    }
  } else {
    const pre = await preprocessed(d, inv, request);
    if (!pre) return { result: "miss", summary: `miss: ${basename(inv.sourceFile)} does not preprocess; the compile would report the error`, reasons: [] };
    const resultKey = key.add("preprocessed", hashBytes(pre.stdout)).add("ppStderr", pre.stderr).digest();
    await d.pending(resultKey);
    hit = !settings.recache && (await has(resultKey));
  }
  return answer(d, { settings, storage, request, compilerPath: compiler.path, inv, now, hit, ...(byText ? { byText } : {}), ...(sharing ? { sharing } : {}) });
}

async function answer(d: ExplainDeps, l: Looked): Promise<ExplainAnswer> {
  const name = shortPath(l.inv.sourceFile, l.request.cwd);
  if (l.hit && l.byText) {
    const changed = l.byText.map((p) => shortPath(p, l.request.cwd)).join(", ");
    return { result: "hit", summary: `hit: ${name} would be served from the cache (direct mode, by text: ${changed} changed only in comments or trailing whitespace)`, reasons: [] };
  }
  if (l.hit) return { result: "hit", summary: `hit: ${name} would be served from the cache (${l.now.mode} mode)`, reasons: [] };
  // A miss names the source once, then each difference on its own line.
  if (l.settings.recache) return { result: "miss", summary: `miss: ${name}: recache is on (REPRISE_RECACHE), every call compiles`, reasons: [] };
  const records = await withIncludeLists(l.storage, readDescriptions(l.settings.dir, l.inv.sourceFile, l.compilerPath), l.sharing);
  if (!records.length) {
    return {
      result: "miss",
      summary: `miss: ${name}`,
      reasons: [`no cached entry of ${name} compiled by ${l.compilerPath} is recorded (never compiled through Reprise with this cache, or cleared)`],
    };
  }
  const hashes = await currentHashes(d.hashes, records);
  const day = today();
  const compared = records.map((r) => describeDifferences(l.now, r, hashes, l.request.env, day));
  const nearest = compared.reduce((best, c) => (c.length < best.length ? c : best));
  if (!nearest.length) {
    const why =
      l.now.mode === "preprocessor"
        ? "the preprocessed text differs from the cached entry's: an included header or a predefined macro changed (preprocessor mode records no header list; direct mode names the header)"
        : "the inputs Reprise records are those of a cached entry, but its result is no longer in the cache (evicted or cleared), or a plugin's part of the key differs";
    return { result: "miss", summary: `miss: ${name}`, reasons: [why] };
  }
  return { result: "miss", summary: `miss: ${name}`, reasons: nearest };
}

/**
 * Each direct-mode record with the include list, dependency-file variables
 * and date of its manifest entry; a record whose manifest is gone (evicted)
 * is compared without them.
 */
async function withIncludeLists(storage: CacheStorage, records: KeyDescription[], sharing?: PathSharing): Promise<KeyDescription[]> {
  const manifests = new Map<string, Awaited<ReturnType<typeof readManifest>>>();
  const out: KeyDescription[] = [];
  for (const r of records) {
    if (!r.manifestKey) {
      out.push(r);
      continue;
    }
    if (!manifests.has(r.manifestKey)) manifests.set(r.manifestKey, await readManifest(storage, r.manifestKey).catch(() => undefined));
    const entry = manifests.get(r.manifestKey)?.entries.find((e) => e.resultKey === r.resultKey);
    if (!entry) {
      out.push(r);
      continue;
    }
    out.push({
      ...r,
      // A manifest shared through baseDirs names files under the base directory relative to it.
      headers: entry.files.map((f) => ({ path: sharing ? sharing.absolute(f.path) : f.path, hash: f.hash })),
      ...(entry.env?.length ? { depEnv: entry.env.map((v) => ({ name: v.name, value: v.value ?? null })) } : {}),
      ...(entry.date ? { date: entry.date } : {}),
      ...appearedSince(entry, sharing),
    });
  }
  return out;
}

/** The paths an entry's absent-path guards name that are there now. */
function appearedSince(entry: ManifestEntry, sharing?: PathSharing): { appeared?: string[] } {
  const appeared: string[] = [];
  for (const g of entry.absent ?? []) {
    const dir = sharing ? sharing.absolute(g.dir) : g.dir;
    for (const name of g.names) if (!stillAbsent(join(dir, name))) appeared.push(join(dir, name));
  }
  return appeared.length ? { appeared } : {};
}

/**
 * The storage as a lookup sees it, unable to change anything: a manifest
 * found in a lower level is not copied up, a corrupt blob is not removed.
 */
function lookupOnly(storage: CacheStorage): CacheStorage {
  const nothing = async () => {};
  return {
    kind: storage.kind,
    location: storage.location,
    read: (kind, key) => storage.read(kind, key),
    write: nothing,
    remove: nothing,
    usage: () => storage.usage(),
    clear: nothing,
    close: nothing,
    ...(storage.readLower ? { readLower: (kind: BlobKind, key: string) => storage.readLower!(kind, key) } : {}),
    ...(storage.readFirst ? { readFirst: (kind: BlobKind, key: string) => storage.readFirst!(kind, key) } : {}),
  };
}

function notCacheable(reason: string): ExplainAnswer {
  return { result: "not-cacheable", summary: `not cached: ${reason}`, reasons: [] };
}

async function digestAll(hashes: FileHashCache, paths: readonly string[]): Promise<DescribedFile[]> {
  const out: DescribedFile[] = [];
  for (const path of paths) out.push({ path, hash: (await hashes.digest(path))?.hash ?? "missing" });
  return out;
}

/** The content now of every file the recorded entries read (null: gone). */
async function currentHashes(hashes: FileHashCache, records: KeyDescription[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const r of records) {
    for (const f of r.headers ?? []) {
      if (!out.has(f.path)) out.set(f.path, (await hashes.digest(f.path))?.hash ?? null);
    }
  }
  return out;
}

/** The preprocessed source, as preprocessor mode keys it (running the preprocessor, never the compiler). */
async function preprocessed(d: ExplainDeps, inv: CompileInvocation, request: CompileRequest): Promise<{ stdout: Buffer; stderr: Buffer } | undefined> {
  if (!inv.preprocessArgv) {
    const stdout = await readFile(inv.sourceFile).catch(() => undefined);
    return stdout ? { stdout, stderr: Buffer.alloc(0) } : undefined;
  }
  const pre = await runPreprocessor(d.limit, request, inv);
  return pre.exitCode === 0 ? pre : undefined;
}
