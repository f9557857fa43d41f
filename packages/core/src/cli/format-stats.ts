import type { StatsSnapshot } from "../stats/stats.js";
import type { LevelStatsSnapshot } from "../storage/cache-storage.js";

export interface StatsReply {
  version: string;
  pid: number;
  stats: StatsSnapshot;
  storages: { kind: string; location: string; sizeBytes: number; entries: number; maxSizeBytes: number; levels?: LevelStatsSnapshot[] }[];
  /** The config file of the directory `--show-stats` ran in; null when none (defaults). */
  configFile?: string | null;
  /** Set instead of `configFile` when that directory's config is invalid. */
  configError?: string;
}

/** The human table of `reprise --show-stats`. */
export function formatStats(r: StatsReply): string {
  const s = r.stats;
  const hits = s.hitsDirect + s.hitsPreprocessor;
  const cacheable = hits + s.misses;
  const rows: [string, string][] = [
    ["Compile requests", String(s.calls)],
    ["Cache hits", `${hits}${cacheable ? ` (${((100 * hits) / cacheable).toFixed(1)} %)` : ""}`],
    ["  direct", String(s.hitsDirect)],
    // Older stats files lack the field.
    ["    of which by text (a comment edited)", String(s.hitsDirectText ?? 0)],
    ["    answered by the native client", String(s.hitsByClient ?? 0)],
    ["  preprocessed", String(s.hitsPreprocessor)],
    ["Cache misses", String(s.misses)],
    ["Failed compiles (not cached)", String(s.compileFailures)],
  ];
  const lists = s.dependencyLists;
  // Only when some miss needed more than its own dependency file (e.g. -MMD): how it learned the rest.
  if (lists && lists.fromCompile + lists.scans > 0) rows.push(["  files read, listed by the compile / scanned", `${lists.fromCompile} / ${lists.scans}${lists.sharedWithJob ? ` (${lists.sharedWithJob} scans shared with a job)` : ""}`]);
  for (const [reason, n] of Object.entries(s.notCacheable).sort()) rows.push([`Not cacheable: ${reason}`, String(n)]);
  for (const [reason, n] of Object.entries(s.errors).sort()) rows.push([`Reprise errors: ${reason}`, String(n)]);
  for (const [sandbox, n] of Object.entries(s.hermetic ?? {}).sort()) rows.push([`Compiled in sandbox: ${sandbox}`, String(n)]);
  for (const [executor, c] of Object.entries(s.remote ?? {}).sort()) {
    rows.push([`Compiled remotely: ${executor}`, String(c.compiles)]);
    rows.push([`  bytes uploaded`, mib(c.bytesUploaded)]);
    if (c.compiles) rows.push([`  round trips per job`, (c.roundTrips / c.compiles).toFixed(2)]);
  }
  for (const [outcome, n] of Object.entries(s.speculation ?? {}).sort()) rows.push([`Farm jobs without a scan: ${outcome}`, String(n)]);
  if (s.remoteRoundTripMs != null) rows.push(["Remote round trip (median)", `${s.remoteRoundTripMs.toFixed(1)} ms`]);
  for (const [reason, n] of Object.entries(s.fallbacks ?? {}).sort()) rows.push([`Compiled locally instead: ${reason}`, String(n)]);
  for (const [reason, n] of Object.entries(s.preprocessorInstead ?? {}).sort()) rows.push([`Preprocessor mode instead of direct: ${reason}`, String(n)]);
  for (const [reason, n] of Object.entries(s.hitIndexSkipped ?? {}).sort()) rows.push([`Not indexed for the native client: ${reason}`, String(n)]);
  for (const w of s.warnings ?? []) rows.push(["Warning", w]);
  rows.push(["Compile time saved", `${(s.timeSavedMs / 1000).toFixed(2)} s`]);
  if (s.hitServiceMs !== null) rows.push(["Daemon time per hit (median)", `${s.hitServiceMs.toFixed(2)} ms`]);
  if (s.clientHitMs != null) rows.push(["Native client time per indexed hit (median)", `${s.clientHitMs.toFixed(2)} ms`]);
  if (s.missOverheadMs !== null) rows.push(["Daemon overhead per miss (median)", `${s.missOverheadMs.toFixed(2)} ms`]);
  for (const [lang, c] of Object.entries(s.byLanguage).sort()) rows.push([`Language ${lang}`, `${c.hitsDirect + c.hitsPreprocessor} hits, ${c.misses} misses`]);
  for (const [plugin, c] of Object.entries(s.byPlugin ?? {}).sort()) {
    const parts = [`${c.hits} hits`, `${c.misses} misses`, `${c.notCacheable} not cacheable`];
    if (c.compileFailures) parts.push(`${c.compileFailures} failed`);
    if (c.errors) parts.push(`${c.errors} errors`);
    rows.push([`Plugin ${plugin}`, parts.join(", ")]);
  }
  for (const st of r.storages) {
    if (st.levels) {
      for (const l of st.levels) rows.push(...levelRows(l));
      rows.push(["Cache size (first level)", `${mib(st.sizeBytes)} of ${mib(st.maxSizeBytes)}, ${st.entries} files`]);
      continue;
    }
    rows.push([`Cache location (${st.kind})`, st.location]);
    rows.push(["Cache size", `${mib(st.sizeBytes)} of ${mib(st.maxSizeBytes)}, ${st.entries} files`]);
  }
  if (r.configError) rows.push(["Config file", `invalid: ${r.configError}`]);
  else if (r.configFile !== undefined) rows.push(["Config file", r.configFile ?? "none (defaults)"]);
  rows.push(["Stats since", s.since]);
  rows.push(["Daemon", `pid ${r.pid}, version ${r.version}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n";
}

function levelRows(l: LevelStatsSnapshot): [string, string][] {
  const head: [string, string] = [`Level ${l.level} (${l.kind}${l.readOnly ? ", read-only" : ""})`, l.state === "unavailable" ? `unavailable: ${l.reason ?? ""}` : `${l.location}${l.state === "closed" ? "" : ` [breaker ${l.state}]`}`];
  if (l.state === "unavailable") return [head];
  const latency = l.latencyMedianMs === null ? "" : `, latency ${l.latencyMedianMs.toFixed(2)} ms median, ${l.latencyP99Ms!.toFixed(2)} ms p99`;
  const extra = [l.corrupt ? `${l.corrupt} corrupt` : "", l.skippedTooLarge ? `${l.skippedTooLarge} too large (skipped)` : ""].filter(Boolean).join(", ");
  return [
    head,
    ["  hits / misses / errors", `${l.hits} / ${l.misses} / ${l.errors}${extra ? `, ${extra}` : ""}`],
    ["  read / written", `${mib(l.bytesRead)} / ${mib(l.bytesWritten)} (${l.writes} stores, ${l.writeBacks} write-backs)${latency}`],
  ];
}

function mib(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
