import { dirname, join } from "node:path";
import type pLimit from "p-limit";
import type { CompileRequest, CompilerInfo, ParseResult } from "./types.js";
import type { Call, CallResult, ServiceResult } from "./call.js";
import { CallOutcomes } from "./call-outcomes.js";
import { ManifestMemo } from "./direct-mode.js";
import { HitServer } from "./serve-hit.js";
import { isRegularOrAbsent, MissStore } from "./store-miss.js";
import type { ModeDeps } from "./mode-deps.js";
import { IncludeSearches, type RememberedSearches } from "./include-search.js";
import { DirListings } from "./dir-listings.js";
import { serveDirectMode } from "./serve-direct.js";
import { servePreprocessorMode } from "./serve-preprocessed.js";
import { findExecutable } from "./find-executable.js";
import { FallbackLater } from "./fallback-later.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { SettingsLoader } from "../config/load-settings.js";
import type { Settings } from "../config/schema.js";
import type { CacheStorage } from "../storage/cache-storage.js";
import type { Project } from "../daemon/project-engines.js";
import { UnsafeCacheDirError } from "../storage/cache-root.js";
import type { Stats } from "../stats/stats.js";
import type { Logger } from "../util/logger.js";
import { ConfigError, PluginError, RepriseError } from "../util/errors.js";
import { callLogger, logCallStart } from "../explain/call-log.js";
import { explainCall, type ExplainAnswer } from "../explain/explain-call.js";
import type { DaemonHit, RecordOutcome } from "../hit-index/hit-index.js";

export type { CallResult, ServiceResult } from "./call.js";

const MAX_NOTICES = 1000;

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
  hitIndex?: { record(hit: DaemonHit, options?: { keepExisting?: boolean }): RecordOutcome };
  /** Include searches kept across daemon restarts; none: asked by each daemon. */
  includeSearches?: RememberedSearches;
}

/**
 * Drives one compiler call through the engine: find and identify the
 * compiler, let its plugin parse the arguments, then serve it in direct or
 * preprocessor mode (serve-direct.ts, serve-preprocessed.ts), which look it
 * up (serve-hit.ts) and on a miss compile and store (store-miss.ts). Any
 * failure of Reprise itself ends in "run it locally", never in a failed build.
 */
export class CompileService {
  private tempCounter = 0;
  private readonly manifests = new ManifestMemo();
  private readonly outcomes: CallOutcomes;
  private readonly hits: HitServer;
  private readonly misses: MissStore;
  private readonly modes: ModeDeps;
  private readonly noticed = new Set<string>();
  private readonly later: FallbackLater;

  constructor(private readonly d: CompileServiceDeps) {
    this.outcomes = new CallOutcomes(d.stats, d.logger);
    this.hits = new HitServer(d.hashes, d.stats, d.logger, this.outcomes, d.hitIndex);
    const absent = { searches: new IncludeSearches(d.includeSearches), listings: new DirListings() };
    this.misses = new MissStore(d.limit, d.hashes, d.stats, d.logger, this.outcomes, this.hits, absent);
    this.later = new FallbackLater(d.logger, (n) => d.stats.fallbackCopiesQueued(n));
    this.modes = { hashes: d.hashes, limit: d.limit, stats: d.stats, logger: d.logger, manifests: this.manifests, hits: this.hits, misses: this.misses, outcomes: this.outcomes, later: this.later, ...absent };
  }

  async run(request: CompileRequest): Promise<ServiceResult> {
    const notices: string[] = [];
    this.later.callStarted();
    try {
      const result = await this.serve(request, notices);
      return notices.length ? { ...result, notices } : result;
    } finally {
      this.later.callEnded();
    }
  }

  private async serve(request: CompileRequest, notices: string[]): Promise<CallResult> {
    const started = performance.now();
    const startedAt = Date.now();
    const compilerName = request.argv[0] ?? "";
    const local = this.outcomes.local.bind(this.outcomes);
    let compilerPath: string | undefined;
    let detectedBy: string | undefined;
    try {
      compilerPath = this.resolveCompiler(request);
      if (!compilerPath) return local(compilerName, "compiler-not-found", started, request);
      const settings = await this.d.settings.load(request.cwd, request.env);
      this.noticeOnce(settings.warnings, notices);
      if (settings.disable) return local(compilerPath, "disabled", started, request);
      const project = await this.d.projects.for(settings, request.cwd);
      const compiler = await project.detector.detect(compilerPath, request.env);
      if (!compiler) return local(compilerPath, "unknown-compiler", started, request, undefined, project);
      detectedBy = compiler.plugin;
      const parsed = this.parse(project, request, compiler, compilerPath);
      if (!parsed.cacheable) return local(compilerPath, parsed.reason, started, request, compiler, project);
      // A hit replaces outputs by rename: never over a device, a directory or a FIFO.
      if (parsed.invocation.outputs.some((o) => !isRegularOrAbsent(o.path))) {
        return local(compilerPath, "output-not-regular-file", started, request, compiler, project);
      }
      const storage = await project.storages.forSettings(settings);
      const log = callLogger(request.env, this.d.logger);
      logCallStart(log, request, compiler, parsed.invocation);
      const call: Call = { settings, project, request, compiler, compilerPath, inv: parsed.invocation, storage, started, startedAt, log };
      // Preprocessor mode needs a preprocessed text; languages without one (rustc) always use direct mode.
      const inv = parsed.invocation;
      const preprocessable = inv.preprocessArgv !== undefined || inv.dependencies.none === true;
      return settings.keyMode === "preprocessor" && preprocessable ? await servePreprocessorMode(this.modes, call) : await serveDirectMode(this.modes, call);
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
    const remembered = (storage: CacheStorage, key: string) => this.hits.remembered(storage, key) !== undefined;
    const deps = { ...this.d, parse: this.parse.bind(this), resolveCompiler: this.resolveCompiler.bind(this) };
    return explainCall({ ...deps, pending: (key) => this.misses.pending(key), remembered }, request);
  }

  /** The storage a call made from `cwd` with `env` would use (for `--show-stats`). */
  async storageFor(cwd: string, env: Record<string, string>): Promise<CacheStorage> {
    const settings = await this.d.settings.load(cwd, env);
    return (await this.d.projects.for(settings, cwd)).storages.forSettings(settings);
  }

  /** The settings of a call made from `cwd` with `env` (for `--show-stats`). */
  settingsFor(cwd: string, env: Record<string, string>): Promise<Settings> {
    return this.d.settings.load(cwd, env);
  }

  /** Forgets entries remembered in memory (after the storage was cleared). */
  forgetEntries(): void {
    this.hits.forget();
    this.manifests.clear();
    this.later.forget();
  }

  /** Resolves once every store started so far has finished (for stats and shutdown). */
  settle(): Promise<void> {
    return this.misses.settle();
  }

  /** Stops making fallback copies while idle (before shutdown); resolves when the one being made is done. */
  close(): Promise<void> {
    return this.later.close();
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
}
