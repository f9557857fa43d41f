import { lstatSync, readFileSync, rmSync } from "node:fs";
import { LRUCache } from "lru-cache";
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type pLimit from "p-limit";
import type { CompileInvocation, CompileRequest, CompilerInfo, ParseResult } from "./types.js";
import type { CallOutcome } from "./hooks.js";
import { MissCompiler } from "./miss-compiler.js";
import { baseKey } from "./cache-key.js";
import { parseDepFileWithEnv } from "./dep-file.js";
import { directResultKey, findInManifest, ManifestMemo, recordInManifest, storageId, today } from "./direct-mode.js";
import { restoreEntry } from "./restore-entry.js";
import { adaptsToItself, outputAdapter } from "./adapt-outputs.js";
import { pathSharing } from "./base-dirs.js";
import { preprocessedFallbackKey, readFallbackCopy, storeFallbackCopy } from "./preprocessor-fallback.js";
import { runCompiler, type CompilerRun } from "./run-compiler.js";
import { findExecutable } from "./find-executable.js";
import { RACY_WINDOW_MS, type FileHashCache } from "../hashing/file-hash-cache.js";
import { hashBytes } from "../hashing/key-hasher.js";
import type { SettingsLoader } from "../config/load-settings.js";
import type { Settings } from "../config/schema.js";
import type { CacheStorage } from "../storage/cache-storage.js";
import type { Project } from "../daemon/project-engines.js";
import { UnsafeCacheDirError } from "../storage/cache-root.js";
import { decodeEntry, encodeEntry, type CacheEntry, type ManifestEntry } from "../storage/codec.js";
import type { Stats } from "../stats/stats.js";
import type { Logger } from "../util/logger.js";
import { ConfigError, CorruptEntryError, PluginError, RepriseError } from "../util/errors.js";
import { callLogger, logCallStart } from "../explain/call-log.js";
import { explainCall, type ExplainAnswer } from "../explain/explain-call.js";
import { recordCall } from "../explain/record-call.js";
import type { PluginOutcome } from "../stats/stats.js";
import type { DaemonHit } from "../hit-index/hit-index.js";
import { indexableHit, type HitFacts } from "../hit-index/indexable-hit.js";

type EnvDep = NonNullable<ManifestEntry["env"]>[number];

const RECENT_ENTRIES_BYTES = 64 * 1024 * 1024;
const MAX_NOTICES = 1000;

/**
 * Remembered entries are kept per storage instance: what a project's own
 * storage plugin returned is never served to another project's call (the
 * built-in local store, one per cache directory, is shared).
 */
function recentKey(storage: CacheStorage, resultKey: string): string {
  return `${storageId(storage)}\0${resultKey}`;
}

function entryBytes(e: CacheEntry): number {
  return Math.max(1, e.outputs.reduce((n, o) => n + o.data.length, 0) + e.stdout.length + e.stderr.length);
}

function readFileOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function isRegularOrAbsent(path: string): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return !st || st.isFile();
}

const PLUGIN_OUTCOME: Record<CallOutcome["result"], PluginOutcome> = {
  "hit-direct": "hits",
  "hit-preprocessor": "hits",
  miss: "misses",
  "not-cacheable": "notCacheable",
  "compile-failed": "compileFailures",
  error: "errors",
};

/** What the daemon tells the client at the end of a call. */
export type CallResult =
  | { kind: "done"; exitCode: number; stdout: Buffer; stderr: Buffer }
  /** `compiler` is for logs and stats only: the client runs the compiler it resolves itself. `notice` is for the user's terminal. */
  | { kind: "run-locally"; compiler: string; reason: string; notice?: string };

export interface CompileServiceDeps {
  settings: SettingsLoader;
  /** The engine (plugins), compiler detector, storages and hermetic compiler of a call's own project. */
  projects: { for(settings: Settings, cwd: string): Promise<Project> };
  hashes: FileHashCache;
  stats: Stats;
  limit: ReturnType<typeof pLimit>;
  /** Real paths of Reprise's own executables, never taken for the compiler. */
  selfPaths: ReadonlySet<string>;
  tempDir: string;
  logger: Logger;
  /** Records direct-mode hits for the native client to answer itself next time (the daemon's hit index). */
  hitIndex?: { record(hit: DaemonHit): void };
}

/** A call's result with the security warnings for the user's terminal (sent first, as stderr). */
export type ServiceResult = CallResult & { notices?: string[] };

interface Call {
  settings: Settings;
  project: Project;
  request: CompileRequest;
  compiler: CompilerInfo;
  /** The executable the call's argv[0] resolved to. */
  compilerPath: string;
  inv: CompileInvocation;
  storage: CacheStorage;
  started: number;
  /** The wall-clock time (ms) the call arrived, before anything it is decided on was looked at. */
  startedAt: number;
  /** The daemon's logger, or a more detailed one the call asked for (REPRISE_LOG in its environment). */
  log: Logger;
}

/**
 * Drives one compiler call through the engine: find and identify the
 * compiler, let its plugin parse the arguments, look the call up, and on a
 * miss compile and store. Any failure of Reprise itself ends in "run it
 * locally", never in a failed build.
 */
export class CompileService {
  private tempCounter = 0;
  private readonly manifests = new ManifestMemo();
  /** Stores still running after their call was answered, by the key a later lookup would use. */
  private readonly storing = new Map<string, Promise<void>>();
  /**
   * Entries read or written lately, decoded, by result key. A result key
   * names its content, so a remembered entry is as good as the stored one;
   * a rebuild after `make clean` is then served without reading or inflating.
   */
  private readonly recent = new LRUCache<string, CacheEntry>({ maxSize: RECENT_ENTRIES_BYTES, sizeCalculation: entryBytes });
  private readonly background = new Set<Promise<void>>();
  private readonly misses: MissCompiler;
  private readonly noticed = new Set<string>();

  constructor(private readonly d: CompileServiceDeps) {
    this.misses = new MissCompiler(d.limit, d.stats, d.logger);
  }

  async run(request: CompileRequest): Promise<ServiceResult> {
    const notices: string[] = [];
    const result = await this.serve(request, notices);
    return notices.length ? { ...result, notices } : result;
  }

  private async serve(request: CompileRequest, notices: string[]): Promise<CallResult> {
    const started = performance.now();
    const startedAt = Date.now();
    const compilerName = request.argv[0] ?? "";
    let compilerPath: string | undefined;
    let detectedBy: string | undefined;
    try {
      compilerPath = this.resolveCompiler(request);
      if (!compilerPath) return this.local(compilerName, "compiler-not-found", started, request);
      const settings = await this.d.settings.load(request.cwd, request.env);
      this.noticeOnce(settings.warnings, notices);
      if (settings.disable) return this.local(compilerPath, "disabled", started, request);
      const project = await this.d.projects.for(settings, request.cwd);
      const compiler = await project.detector.detect(compilerPath, request.env);
      if (!compiler) return this.local(compilerPath, "unknown-compiler", started, request, undefined, project);
      detectedBy = compiler.plugin;
      const parsed = this.parse(project, request, compiler, compilerPath);
      if (!parsed.cacheable) return this.local(compilerPath, parsed.reason, started, request, compiler, project);
      // A hit replaces outputs by rename: never over a device, a directory or a FIFO.
      if (parsed.invocation.outputs.some((o) => !isRegularOrAbsent(o.path))) {
        return this.local(compilerPath, "output-not-regular-file", started, request, compiler, project);
      }
      const storage = await project.storages.forSettings(settings);
      const log = callLogger(request.env, this.d.logger);
      logCallStart(log, request, compiler, parsed.invocation);
      const call: Call = { settings, project, request, compiler, compilerPath, inv: parsed.invocation, storage, started, startedAt, log };
      // Preprocessor mode needs a preprocessed text; languages without one (rustc) always use direct mode.
      const inv = parsed.invocation;
      const preprocessable = inv.preprocessArgv !== undefined || inv.dependencies.none === true;
      return settings.keyMode === "preprocessor" && preprocessable ? await this.preprocessorMode(call) : await this.directMode(call);
    } catch (err) {
      if (err instanceof UnsafeCacheDirError) this.noticeOnce([`${err.message}; compiling without the cache`], notices);
      const reason = err instanceof RepriseError ? err.code : "internal-error";
      const plugin = err instanceof PluginError ? err.plugin : ((err as { plugin?: string } | undefined)?.plugin ?? detectedBy);
      this.d.logger.error("call failed, compiling without cache%s: %s", plugin ? ` (plugin ${plugin})` : "", (err as Error).stack ?? err);
      this.d.stats.error(reason);
      if (plugin) this.d.stats.plugin(plugin, "errors");
      const message = (err as Error).message;
      // A bad setting stops caching for every call: the user must see it on the terminal, not only in stats.
      const notice = err instanceof ConfigError || err instanceof PluginError ? message.trim() : undefined;
      return { kind: "run-locally", compiler: compilerPath ?? compilerName, reason: `reprise error: ${message}`, ...(notice ? { notice } : {}) };
    }
  }

  /** `reprise --explain`: whether `request` would hit, and for a miss why, without compiling, storing or counting. */
  explain(request: CompileRequest): Promise<ExplainAnswer> {
    const remembered = (storage: CacheStorage, key: string) => this.recent.has(recentKey(storage, key));
    const deps = { ...this.d, parse: this.parse.bind(this), resolveCompiler: this.resolveCompiler.bind(this) };
    return explainCall({ ...deps, pending: (key) => this.storing.get(key), remembered }, request);
  }

  /** The storage a call made from `cwd` with `env` would use (for `--show-stats`). */
  async storageFor(cwd: string, env: Record<string, string>): Promise<CacheStorage> {
    const settings = await this.d.settings.load(cwd, env);
    return (await this.d.projects.for(settings, cwd)).storages.forSettings(settings);
  }

  /**
   * Security warnings for the user (a config file that was not read, a cache
   * directory that was not used): each is passed on once per daemon, to the
   * terminal of the call that met it first, the log and the stats.
   */
  private noticeOnce(warnings: readonly string[], into: string[]): void {
    for (const text of warnings) {
      if (this.noticed.has(text)) continue;
      if (this.noticed.size >= MAX_NOTICES) this.noticed.clear();
      this.noticed.add(text);
      this.d.logger.warn("%s", text);
      this.d.stats.warning(text);
      into.push(text);
    }
  }

  /** The settings of a call made from `cwd` with `env` (for `--show-stats`). */
  settingsFor(cwd: string, env: Record<string, string>): Promise<Settings> {
    return this.d.settings.load(cwd, env);
  }

  /** Forgets entries remembered in memory (after the storage was cleared). */
  forgetEntries(): void {
    this.recent.clear();
    this.manifests.clear();
  }

  private resolveCompiler(request: CompileRequest): string | undefined {
    const name = request.argv[0] ?? "";
    return findExecutable(name, {
      cwd: request.cwd,
      pathEnv: request.env.PATH,
      exclude: this.d.selfPaths,
      skipDir: request.masqueradeAs ? dirname(request.masqueradeAs) : undefined,
    });
  }

  private parse(project: Project, request: CompileRequest, compiler: CompilerInfo, compilerPath: string): ParseResult {
    const hook = project.engine.hooks.parseArguments.get(compiler.family);
    const result = hook?.call({
      argv: [compilerPath, ...request.argv.slice(1)],
      cwd: request.cwd,
      env: request.env,
      compiler,
      stderrIsTTY: request.stderrIsTTY,
      tempPath: (suffix) => join(this.d.tempDir, `${process.pid}-${++this.tempCounter}${suffix}`),
    });
    return result ?? { cacheable: false, reason: "unsupported-compiler-family", detail: compiler.family };
  }

  private async directMode(call: Call): Promise<CallResult> {
    const { inv } = call;
    // baseDirs: paths under a base directory are keyed relative to it.
    const sharing = pathSharing(call.settings.baseDirs, call.request.cwd, inv);
    const tokens = [...inv.volatileMarkers.map((m) => m.token), ...(sharing?.fileTokens ?? [])];
    const source = await this.d.hashes.digest(inv.sourceFile, tokens);
    if (!source) return this.local(inv.compileArgv[0]!, "no-source", call.started, call.request, call.compiler);
    if (this.isUncacheable(inv, source.tokens)) return this.local(inv.compileArgv[0]!, "time-macro", call.started, call.request, call.compiler);

    const key = await baseKey(call.project.engine, this.d.hashes, call.request, call.compiler, inv, "direct", sharing);
    const manifestKey = key.add("source", sharing ? sharing.relative(inv.sourceFile) : inv.sourceFile).add("sourceHash", source.hash).digest();
    call.log.debug("%s: direct mode, manifest key %s", inv.sourceFile, manifestKey);
    const storing = this.storing.get(manifestKey);
    if (storing) await storing;
    const match = await findInManifest(call.storage, manifestKey, this.manifests, this.d.hashes, call.request.env, (err) => this.rejected("manifest", manifestKey, err), sharing);
    if (match) {
      const hit = await this.tryHit(call, match.resultKey, "direct", false, sharing ? undefined : { match, sourceHash: source.hash, tokens, headerTokens: [] });
      if (hit) return hit;
    }
    const fallbackKey = call.settings.recache || !call.settings.preprocessorFallback ? undefined : await preprocessedFallbackKey(call.project.engine, this.d.hashes, this.d.limit, call.request, call.compiler, inv);
    if (fallbackKey) {
      // Diagnostics quote source lines, which the preprocessed text does not hold: only silent entries are served.
      const hit = await this.tryHit(call, fallbackKey, "preprocessor", true);
      if (hit) return hit;
    }
    return this.compileAndStore(call, manifestKey, async (depText, compileStart, outputs, run) => {
      const files = await this.collectIncludes(call, depText, compileStart, tokens);
      if (!files) return undefined;
      const date = files.dated || source.tokens.some((t) => this.markerEffect(inv, t) === "date") ? today() : undefined;
      const list = sharing ? files.list.map((f) => ({ ...f, path: sharing.relative(f.path) })) : files.list;
      // The outputs (or the streams a hit replays) record where this checkout is: only this checkout may be served them.
      const recorded = sharing?.recordedIn([...outputs, { data: run.stdout }, { data: run.stderr }]);
      const bound = sharing && (files.found.some((t) => sharing.fileTokens.includes(t)) || source.tokens.some((t) => sharing.fileTokens.includes(t)) || recorded);
      const root = bound ? sharing.root : undefined;
      const resultKey = directResultKey(manifestKey, list, date, files.env, root);
      const entry: ManifestEntry = { files: list, resultKey, ...(date ? { date } : {}), ...(files.env.length ? { env: files.env } : {}), ...(root !== undefined ? { root } : {}) };
      const after = async () => {
        await recordInManifest(call.storage, manifestKey, entry, this.manifests);
        await this.record(call, "direct", source.hash, { manifestKey, entry });
        // The next identical call would be a direct hit on this entry: let the client answer it.
        if (!sharing) this.indexStored(call, resultKey, { match: entry, sourceHash: source.hash, tokens, headerTokens: tokens });
      };
      return { resultKey, alsoUnder: fallbackKey, after };
    });
  }

  private async preprocessorMode(call: Call): Promise<CallResult> {
    const { inv, request } = call;
    let preprocessed: { stdout: Buffer; stderr: Buffer };
    if (inv.preprocessArgv) {
      const pre = await this.d.limit(() => runCompiler(inv.preprocessArgv!, request.cwd, inv.compileEnv ?? request.env));
      // Let the real compile report the error exactly as it would.
      if (pre.exitCode !== 0) return this.compileAndStore(call, undefined, async () => undefined);
      preprocessed = pre;
    } else {
      const source = await readFile(inv.sourceFile).catch(() => undefined);
      if (!source) return this.local(inv.compileArgv[0]!, "no-source", call.started, call.request, call.compiler);
      preprocessed = { stdout: source, stderr: Buffer.alloc(0) };
    }
    // Markers survive preprocessing only where they are not macros (e.g. an assembler's .incbin).
    const marker = inv.volatileMarkers.find((m) => m.effect === "uncacheable" && preprocessed.stdout.includes(m.token));
    if (marker) return this.local(inv.compileArgv[0]!, "time-macro", call.started, call.request, call.compiler);
    const key = await baseKey(call.project.engine, this.d.hashes, request, call.compiler, inv, "preprocessor");
    const resultKey = key.add("preprocessed", hashBytes(preprocessed.stdout)).add("ppStderr", preprocessed.stderr).digest();
    const storing = this.storing.get(resultKey);
    if (storing) await storing;
    const hit = await this.tryHit(call, resultKey, "preprocessor");
    if (hit) return hit;
    call.log.debug("%s: preprocessor mode, result key %s", inv.sourceFile, resultKey);
    return this.compileAndStore(call, resultKey, async () => ({ resultKey, after: () => this.record(call, "preprocessor", undefined) }));
  }

  /** `silentOnly`: the direct-mode fallback's lookup, of a copy in the first level that is served only without diagnostics. */
  private async tryHit(call: Call, resultKey: string, kind: "direct" | "preprocessor", silentOnly = false, direct?: HitFacts["direct"]): Promise<CallResult | undefined> {
    // Recache: compile as on a miss and overwrite what every writable level holds.
    if (call.settings.recache) return undefined;
    const entry = this.recent.get(recentKey(call.storage, resultKey)) ?? (await this.readEntry(call.storage, resultKey, silentOnly));
    if (!entry || (silentOnly && (entry.stdout.length > 0 || entry.stderr.length > 0))) return undefined;
    const adapt = outputAdapter(call.project.engine, call.compiler, call.inv);
    const written: { path: string; data: Buffer; executable: boolean }[] = [];
    const onWritten = (path: string, data: Buffer) => {
      this.d.hashes.rememberWritten(path, data);
      if (direct) written.push({ path, data, executable: call.inv.outputs.some((o) => o.path === path && o.executable === true) });
    };
    if (!restoreEntry(entry, call.inv, onWritten, adapt)) return undefined;
    if (direct && this.d.hitIndex) this.indexLater(call, resultKey, entry, written, direct);
    call.log.debug("%s: result key %s, from %s", call.inv.sourceFile, resultKey, call.storage.location);
    const serviceMs = performance.now() - call.started;
    this.d.stats.hit(kind, call.inv.language, entry.compileMs, serviceMs);
    await this.finished(call, kind === "direct" ? "hit-direct" : "hit-preprocessor", entry.exitCode, serviceMs);
    return { kind: "done", exitCode: entry.exitCode, stdout: entry.stdout, stderr: entry.stderr };
  }

  /** After a miss was stored: indexes the entry as the hit the same call would now get. */
  private indexStored(call: Call, resultKey: string, direct: HitFacts["direct"]): void {
    const stored = this.d.hitIndex && this.recent.get(recentKey(call.storage, resultKey));
    if (!stored) return;
    const adapt = outputAdapter(call.project.engine, call.compiler, call.inv);
    const byRole = new Map(stored.outputs.map((o) => [o.role, o.data]));
    const written: { path: string; data: Buffer; executable: boolean }[] = [];
    for (const out of call.inv.outputs) {
      const data = byRole.get(out.role);
      if (!data && !out.optional) return;
      const adapted = data && (adapt ? adapt(out, data) : data);
      if (data && !adapted) return;
      if (adapted) written.push({ path: out.path, data: adapted, executable: out.executable === true });
    }
    this.indexLater(call, resultKey, stored, written, direct);
  }

  /** After the answer: lets the native client answer this same request itself while nothing it was decided on changes. */
  private indexLater(call: Call, resultKey: string, entry: CacheEntry, written: DaemonHit["written"], direct: HitFacts["direct"]): void {
    // Not isUsed(): the tap guard's interceptor counts there.
    const pluginsWatchCalls = call.project.engine.hooks.callFinished.taps.length > 0;
    setImmediate(() => {
      const hit = indexableHit({ ...call, pluginsWatchCalls, resultKey, entry, written, direct });
      if (hit) this.d.hitIndex?.record({ ...hit, compilerPath: call.compilerPath });
    });
  }

  private async readEntry(storage: CacheStorage, resultKey: string, fallbackCopy = false): Promise<CacheEntry | undefined> {
    try {
      const raw = await (fallbackCopy ? readFallbackCopy(storage, resultKey) : storage.read("result", resultKey));
      if (!raw) return undefined;
      const entry = await decodeEntry(raw, resultKey);
      this.recent.set(recentKey(storage, resultKey), entry);
      return entry;
    } catch (err) {
      if (!(err instanceof CorruptEntryError)) throw err;
      this.rejected("result", resultKey, err);
      await storage.remove("result", resultKey);
      return undefined;
    }
  }

  /** A stored blob that is not what its key promises: a miss, counted (an older format's only logged). */
  private rejected(kind: "result" | "manifest", key: string, err: CorruptEntryError): void {
    if (err.code === "E_ENTRY_VERSION") {
      this.d.logger.debug("replacing %s %s of an older format: %s", kind, key, err.message);
      return;
    }
    const reason = err.code === "E_KEY_MISMATCH" ? "entry-key-mismatch" : "corrupt-entry";
    this.d.logger.warn("removing %s %s (%s): %s", kind, key, reason, err.message);
    this.d.stats.error(reason);
  }

  /**
   * Compiles and answers the client as soon as the compiler is done. When the
   * compile succeeded, its outputs and dependency file are read before the
   * answer (the build may move or rewrite them right after), and the rest —
   * hashing what the compile read, `plan`'s key, compressing and writing the
   * entry — runs after it, under `pendingKey`, which later lookups of the
   * same key wait for.
   */
  private async compileAndStore(
    call: Call,
    pendingKey: string | undefined,
    plan: (depText: string | undefined, compileStart: number, outputs: CacheEntry["outputs"], run: CompilerRun) => Promise<{ resultKey: string; alsoUnder?: string; after?: () => Promise<void> } | undefined>,
  ): Promise<CallResult> {
    const { inv, request } = call;
    const compileStart = Date.now();
    const deps = inv.dependencies;
    let captured: { outputs: CacheEntry["outputs"]; depText: string | undefined } | undefined;
    let run: CompilerRun;
    try {
      const [compiled] = await Promise.all([
        this.compile(call),
        deps.scanArgv ? this.d.limit(() => runCompiler(deps.scanArgv!, request.cwd, inv.compileEnv ?? request.env)) : undefined,
      ]);
      run = compiled;
      call.log.debug("%s: compiler exited %d after %s ms", inv.sourceFile, run.exitCode, run.durationMs.toFixed(1));
      if (run.exitCode !== 0) {
        this.d.stats.compileFailed();
        await this.finished(call, "compile-failed", run.exitCode, performance.now() - call.started);
        return { kind: "done", exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr };
      }
      captured = this.capture(call);
    } finally {
      const temps = [deps.depFileIsTemporary ? deps.depFile : undefined, deps.scanDepFile].filter((p): p is string => !!p);
      for (const p of temps) rmSync(p, { force: true });
    }
    const overhead = performance.now() - call.started - run.durationMs;
    this.d.stats.miss(inv.language, overhead);
    const result: CallResult = { kind: "done", exitCode: 0, stdout: run.stdout, stderr: run.stderr };
    const durationMs = performance.now() - call.started;
    const outputs = captured?.outputs;
    const storeLater = async () => {
      try {
        const stored = outputs ? await plan(captured!.depText, compileStart, outputs, run) : undefined;
        if (stored && outputs) await this.store(call, stored.resultKey, outputs, run, stored.after, stored.alsoUnder);
      } catch (err) {
        this.d.logger.error("could not store result: %s", (err as Error).stack ?? err);
        this.d.stats.error("store-failed");
      }
      await this.finished(call, "miss", 0, durationMs);
    };
    this.inBackground(pendingKey, storeLater);
    return result;
  }

  /**
   * The compile's outputs and dependency file, read at once; undefined (not
   * cached) when a required output is missing.
   */
  private capture(call: Call): { outputs: CacheEntry["outputs"]; depText: string | undefined } | undefined {
    const outputs: CacheEntry["outputs"] = [];
    for (const out of call.inv.outputs) {
      const data = readFileOrUndefined(out.path);
      if (data) {
        outputs.push({ role: out.role, data });
        this.d.hashes.rememberWritten(out.path, data);
      }
      else if (!out.optional) {
        this.d.logger.warn("compile did not write %s (%s); not caching", out.path, out.role);
        return undefined;
      }
    }
    const deps = call.inv.dependencies;
    const depPath = deps.none ? undefined : (deps.scanDepFile ?? deps.depFile);
    const depText = depPath ? readFileOrUndefined(depPath)?.toString("utf8") : undefined;
    return { outputs, depText };
  }

  /** Runs `work` after the answer; lookups of `key` wait for it, and `settle()` for all. */
  private inBackground(key: string | undefined, work: () => Promise<void>): void {
    const done: Promise<void> = work()
      .catch((err: unknown) => this.d.logger.error("background store failed: %s", (err as Error).stack ?? err))
      .finally(() => {
        this.background.delete(done);
        if (key && this.storing.get(key) === done) this.storing.delete(key);
      });
    this.background.add(done);
    if (key) this.storing.set(key, done);
  }

  /** Resolves once every store started so far has finished (for stats and shutdown). */
  async settle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** The real compile of a miss: wherever a `compileMiss` tap takes it, else locally (see MissCompiler). */
  private async compile(call: Call): Promise<CompilerRun> {
    await call.project.prepareMiss?.(call.settings);
    return this.misses.compile(call.project.engine, { request: call.request, compiler: call.compiler, invocation: call.inv, settings: call.settings, log: call.log });
  }

  /** Records what the stored entry's key was made of, for `--explain` (after the answer; a failure only loses the explanation). */
  private async record(call: Call, mode: "direct" | "preprocessor", sourceHash: string | undefined, direct?: { manifestKey: string; entry: ManifestEntry }): Promise<void> {
    await recordCall(this.d.hashes, call.settings.dir, call.request, call.compiler.path, call.compiler, call.inv, mode, sourceHash, direct).catch((err: unknown) =>
      this.d.logger.debug("could not record the key description of %s: %s", call.inv.sourceFile, (err as Error).message),
    );
  }

  private async store(call: Call, resultKey: string, outputs: CacheEntry["outputs"], run: CompilerRun, after?: () => Promise<void>, alsoUnder?: string): Promise<void> {
    if (!adaptsToItself(outputAdapter(call.project.engine, call.compiler, call.inv), call.inv.outputs, outputs)) {
      this.d.logger.warn("the plugin cannot lay out the outputs of %s again for another call; not caching", call.inv.sourceFile);
      this.d.stats.error("output-not-adaptable");
      return;
    }
    const entry: CacheEntry = { outputs, stdout: run.stdout, stderr: run.stderr, exitCode: run.exitCode, compileMs: Math.round(run.durationMs), createdAt: Date.now() };
    await call.storage.write("result", resultKey, await encodeEntry(entry, resultKey));
    this.recent.set(recentKey(call.storage, resultKey), entry);
    if (alsoUnder && !entry.stdout.length && !entry.stderr.length) await storeFallbackCopy(call.storage, alsoUnder, await encodeEntry(entry, alsoUnder));
    if (after) await after();
  }

  /**
   * The files the compile read, from its dependency file, with their hashes.
   * Undefined when direct mode must not record this compile: a file changed
   * since the compiler started, or one uses a time macro.
   */
  private async collectIncludes(
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
      const found = await this.d.hashes.digestWithChangeTime(path, tokens);
      if (!found || changedSince(found, compileStart)) {
        this.d.logger.info("%s changed during the compile of %s; not recording it for direct mode", path, basename(call.inv.sourceFile));
        return undefined;
      }
      if (path === call.inv.sourceFile) continue;
      const digest = found.digest;
      if (this.isUncacheable(call.inv, digest.tokens)) {
        this.d.stats.error("time-macro-in-header");
        return undefined;
      }
      if (digest.tokens.some((t) => this.markerEffect(call.inv, t) === "date")) dated = true;
      for (const t of digest.tokens) seen.add(t);
      list.push({ path, hash: digest.hash, size: digest.size });
    }
    return { list, dated, env, found: [...seen] };
  }

  private markerEffect(inv: CompileInvocation, token: string) {
    return inv.volatileMarkers.find((m) => m.token === token)?.effect;
  }

  private isUncacheable(inv: CompileInvocation, found: string[]): boolean {
    return found.some((t) => this.markerEffect(inv, t) === "uncacheable");
  }

  private async local(compiler: string, reason: string, started: number, request: CompileRequest, info?: CompilerInfo, project?: Project): Promise<CallResult> {
    this.d.stats.notCacheable(reason);
    const log = callLogger(request.env, this.d.logger);
    if (log.enabled("debug")) log.debug("not cached (%s): %s (cwd %s, %s ms)", reason, request.argv.join(" "), request.cwd, (performance.now() - started).toFixed(1));
    if (project) await this.emit(project, { request, compiler: info, result: "not-cacheable", reason, exitCode: 0, durationMs: performance.now() - started });
    return { kind: "run-locally", compiler, reason };
  }

  private finished(call: Call, result: CallOutcome["result"], exitCode: number, durationMs: number): Promise<void> {
    if (call.log.enabled("debug")) call.log.debug("%s: %s, exit %d, %s ms", call.inv.sourceFile, result, exitCode, durationMs.toFixed(1));
    return this.emit(call.project, { request: call.request, compiler: call.compiler, invocation: call.inv, result, exitCode, durationMs });
  }

  /** Tells the plugins of the call's own project, and only those, how the call ended. */
  private async emit(project: Project, outcome: CallOutcome): Promise<void> {
    const plugin = outcome.compiler?.plugin;
    if (plugin) this.d.stats.plugin(plugin, PLUGIN_OUTCOME[outcome.result]);
    if (!project.engine.hooks.callFinished.isUsed()) return;
    try {
      await project.engine.hooks.callFinished.promise(outcome);
    } catch (err) {
      this.d.logger.warn("a callFinished plugin failed: %s", (err as Error).message);
    }
  }
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
