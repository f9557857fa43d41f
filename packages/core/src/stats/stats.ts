import { readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { REPLACE_FLAGS } from "../util/private-file.js";
import { dirname } from "node:path";

export interface LanguageCounters {
  hitsDirect: number;
  hitsPreprocessor: number;
  misses: number;
}

/** Calls of the compilers one plugin detected, by outcome. */
export interface PluginCounters {
  hits: number;
  misses: number;
  notCacheable: number;
  compileFailures: number;
  errors: number;
}

export type PluginOutcome = keyof PluginCounters;

export interface StatsSnapshot {
  since: string;
  calls: number;
  hitsDirect: number;
  hitsPreprocessor: number;
  misses: number;
  /** Calls run without caching, by reason. */
  notCacheable: Record<string, number>;
  /** Calls where Reprise itself failed and fell back to a plain compile, by reason. */
  errors: Record<string, number>;
  /** Misses compiled locally although config asked for another way (e.g. a sandbox that cannot run), by reason. */
  fallbacks: Record<string, number>;
  /** Direct-mode calls served in preprocessor mode instead, by reason (e.g. a `__has_include` whose argument is a macro). */
  preprocessorInstead: Record<string, number>;
  /**
   * Compiles of hermetic mode: misses (and failed compiles) compiled inside
   * a sandbox from the packaged toolchain, by sandbox name. A miss compiled
   * locally instead is counted in `fallbacks`.
   */
  hermetic: Record<string, number>;
  /**
   * Farm jobs made without a scan: from a remembered list of files,
   * `speculationAccepted` and `speculationRejected:<reason>`; from the
   * compiler plugin's prediction (a source's first job), `predictionAccepted`
   * and `predictionRejected:<reason>` (each rejected one run again after a scan).
   */
  speculation: Record<string, number>;
  /** Misses compiled on other machines, by executor (e.g. "farm"). */
  remote: Record<string, RemoteCounters>;
  /** Median milliseconds from asking for a remote compile to having its outputs, over the recent ones. */
  remoteRoundTripMs: number | null;
  /** Cacheable calls whose compile failed (never cached). */
  compileFailures: number;
  /** Entries copied under their preprocessed text's key after their miss, while the daemon was idle (see docs/sharing.md). */
  fallbackCopiesLater: number;
  /** Such copies still waiting for the daemon to be idle. */
  fallbackCopiesWaiting: number;
  /**
   * Direct-mode hits (counted in `hitsDirect` too) on an entry whose files
   * changed only where their text digests do not show it (a header's
   * comment, see `textDigest` in docs/plugin-guide.md).
   */
  hitsDirectText: number;
  /**
   * Misses whose own compile listed every file it read (`listDependencies`),
   * so no second scan ran, and misses for which a separate dependency scan
   * ran (`DependencyDiscovery.scanArgv`, e.g. `-MMD` without such a list).
   */
  dependencyLists: { fromCompile: number; scans: number; sharedWithJob?: number };
  /**
   * Direct hits (and stored misses) the native client could not be given in
   * the hit index, so the daemon answers their next identical call itself, by
   * reason (see docs/protocol.md, "Hits answered by the client").
   */
  hitIndexSkipped: Record<string, number>;
  /** Index entries written once a file or directory changed just before the call had settled (a second try). */
  hitIndexRetried: number;
  /** Sum of the original compile times of every hit. */
  timeSavedMs: number;
  /** Median daemon-side milliseconds spent answering a hit, over the recent ones. */
  hitServiceMs: number | null;
  /** Direct hits the native client answered from the hit index, without asking the daemon (counted in hitsDirect too). */
  hitsByClient: number;
  /** Median milliseconds the native client spent answering such a hit, over the recent ones. */
  clientHitMs: number | null;
  /** Median daemon-side milliseconds spent on a miss beyond the compiler's own time. */
  missOverheadMs: number | null;
  byLanguage: Record<string, LanguageCounters>;
  /** Security warnings met (a config file not read, a cache directory not used), each once. */
  warnings: string[];
  /** Calls by the plugin that detected their compiler (`CompilerInfo.plugin`). */
  byPlugin: Record<string, PluginCounters>;
}

export interface RemoteCounters {
  compiles: number;
  bytesUploaded: number;
  /** HTTP round trips to builders, summed over the compiles (a job the builder holds everything for takes one). */
  roundTrips: number;
}

const RECENT = 512;
const MAX_WARNINGS = 20;

/** Counters kept by the daemon and persisted next to the socket so `--show-stats` survives restarts. */
export class Stats {
  private data: StatsSnapshot;
  private hitTimes: number[] = [];
  private missOverheads: number[] = [];
  private remoteTimes: number[] = [];
  private clientHitTimes: number[] = [];
  private dirty = false;

  constructor(private readonly file?: string) {
    this.data = fresh();
    if (file) {
      try {
        const loaded = JSON.parse(readFileSync(file, "utf8")) as Partial<StatsSnapshot>;
        this.data = { ...fresh(), ...loaded, fallbackCopiesWaiting: 0, hitServiceMs: null, missOverheadMs: null, remoteRoundTripMs: null, clientHitMs: null };
      } catch {
        // No stats yet, or unreadable: start from zero.
      }
    }
  }

  hit(kind: "direct" | "preprocessor", language: string, savedMs: number, serviceMs: number): void {
    this.data.calls++;
    if (kind === "direct") this.data.hitsDirect++;
    else this.data.hitsPreprocessor++;
    const lang = this.lang(language);
    if (kind === "direct") lang.hitsDirect++;
    else lang.hitsPreprocessor++;
    this.data.timeSavedMs += savedMs;
    push(this.hitTimes, serviceMs);
    this.dirty = true;
  }

  /** A direct hit the native client answered from the hit index (reported through its hit log). */
  clientHit(language: string, savedMs: number, clientMs: number): void {
    this.data.calls++;
    this.data.hitsDirect++;
    this.data.hitsByClient++;
    this.lang(language).hitsDirect++;
    this.data.timeSavedMs += savedMs;
    push(this.clientHitTimes, clientMs);
    this.dirty = true;
  }

  miss(language: string, overheadMs: number): void {
    this.data.calls++;
    this.data.misses++;
    this.lang(language).misses++;
    push(this.missOverheads, overheadMs);
    this.dirty = true;
  }

  notCacheable(reason: string): void {
    this.data.calls++;
    this.data.notCacheable[reason] = (this.data.notCacheable[reason] ?? 0) + 1;
    this.dirty = true;
  }

  error(reason: string): void {
    this.data.calls++;
    this.data.errors[reason] = (this.data.errors[reason] ?? 0) + 1;
    this.dirty = true;
  }

  /** Not a call of its own: a miss that could not be compiled the configured way. */
  fallback(reason: string): void {
    this.data.fallbacks[reason] = (this.data.fallbacks[reason] ?? 0) + 1;
    this.dirty = true;
  }

  /** Not a call of its own: a direct-mode call went to preprocessor mode, for `reason`. */
  preprocessorInstead(reason: string): void {
    this.data.preprocessorInstead[reason] = (this.data.preprocessorInstead[reason] ?? 0) + 1;
    this.dirty = true;
  }

  /** Not a call of its own: the compile of a miss (or failed compile) ran in sandbox `name`. */
  hermeticCompile(name: string): void {
    this.data.hermetic[name] = (this.data.hermetic[name] ?? 0) + 1;
    this.dirty = true;
  }

  /** Not a call of its own: the compile of a miss ran on another machine. */
  remoteCompile(executor: string, detail: { roundTripMs: number; bytesUploaded: number; roundTrips: number }): void {
    const c = (this.data.remote[executor] ??= { compiles: 0, bytesUploaded: 0, roundTrips: 0 });
    c.compiles++;
    c.bytesUploaded += detail.bytesUploaded;
    c.roundTrips += detail.roundTrips;
    push(this.remoteTimes, detail.roundTripMs);
    this.dirty = true;
  }

  /** Not a call of its own: a speculative job's result was taken, or rejected for `reason` (MissStats.speculation). */
  speculation(outcome: "accepted" | { rejected: string }, from: "remembered" | "predicted" = "remembered"): void {
    const prefix = from === "predicted" ? "prediction" : "speculation";
    const name = outcome === "accepted" ? `${prefix}Accepted` : `${prefix}Rejected:${outcome.rejected}`;
    this.data.speculation[name] = (this.data.speculation[name] ?? 0) + 1;
    this.dirty = true;
  }

  warning(text: string): void {
    if (this.data.warnings.includes(text)) return;
    this.data.warnings.push(text);
    if (this.data.warnings.length > MAX_WARNINGS) this.data.warnings.shift();
    this.dirty = true;
  }

  /** Not a call of its own: which plugin's compiler the call was made with. */
  plugin(name: string, outcome: PluginOutcome): void {
    const c = (this.data.byPlugin[name] ??= { hits: 0, misses: 0, notCacheable: 0, compileFailures: 0, errors: 0 });
    c[outcome]++;
    this.dirty = true;
  }

  /** Not a call of its own: a hit was not indexed for the native client, for `reason`. */
  hitIndexSkipped(reason: string): void {
    this.data.hitIndexSkipped[reason] = (this.data.hitIndexSkipped[reason] ?? 0) + 1;
    this.dirty = true;
  }

  /** Not a call of its own: an index entry refused while something was settling was written on the second try. */
  hitIndexRetried(): void {
    this.data.hitIndexRetried++;
    this.dirty = true;
  }

  fallbackCopiesQueued(n: number): void {
    this.data.fallbackCopiesWaiting = n;
  }

  /** A miss learned the files it read from its own compile (`fromCompile`) or from a separate scan; `sharedWithJob`: that scan was also a job's closure (run once for both). */
  dependencyList(from: "fromCompile" | "scans" | "sharedWithJob"): void {
    this.data.dependencyLists[from] = (this.data.dependencyLists[from] ?? 0) + 1;
    this.dirty = true;
  }

  /** The direct hit just counted matched by text digests. */
  directTextHit(): void {
    this.data.hitsDirectText++;
    this.dirty = true;
  }

  fallbackCopyLater(): void {
    this.data.fallbackCopiesLater++;
    this.dirty = true;
  }

  compileFailed(): void {
    this.data.calls++;
    this.data.compileFailures++;
    this.dirty = true;
  }

  snapshot(): StatsSnapshot {
    return {
      ...structuredClone(this.data),
      hitServiceMs: median(this.hitTimes),
      missOverheadMs: median(this.missOverheads),
      remoteRoundTripMs: median(this.remoteTimes),
      clientHitMs: median(this.clientHitTimes),
    };
  }

  zero(): void {
    this.data = fresh();
    this.hitTimes = [];
    this.missOverheads = [];
    this.remoteTimes = [];
    this.clientHitTimes = [];
    this.dirty = true;
  }

  async persist(): Promise<void> {
    if (!this.file || !this.dirty) return;
    this.dirty = false;
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    // O_NOFOLLOW: a symlink at the temporary name is never written through (rename replaces a link, not its target).
    await writeFile(tmp, JSON.stringify(this.data), { mode: 0o600, flag: REPLACE_FLAGS });
    await rename(tmp, this.file);
  }

  private lang(language: string): LanguageCounters {
    return (this.data.byLanguage[language] ??= { hitsDirect: 0, hitsPreprocessor: 0, misses: 0 });
  }
}

function fresh(): StatsSnapshot {
  return {
    since: new Date().toISOString(),
    calls: 0,
    hitsDirect: 0,
    hitsPreprocessor: 0,
    misses: 0,
    notCacheable: {},
    errors: {},
    fallbacks: {},
    preprocessorInstead: {},
    hermetic: {},
    speculation: {},
    remote: {},
    remoteRoundTripMs: null,
    compileFailures: 0,
    fallbackCopiesLater: 0,
    hitsDirectText: 0,
    dependencyLists: { fromCompile: 0, scans: 0 },
    fallbackCopiesWaiting: 0,
    hitIndexSkipped: {},
    hitIndexRetried: 0,
    timeSavedMs: 0,
    hitServiceMs: null,
    hitsByClient: 0,
    clientHitMs: null,
    missOverheadMs: null,
    byLanguage: {},
    warnings: [],
    byPlugin: {},
  };
}

function push(list: number[], v: number): void {
  list.push(v);
  if (list.length > RECENT) list.shift();
}

function median(list: number[]): number | null {
  if (!list.length) return null;
  const sorted = [...list].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]! * 1000) / 1000;
}
