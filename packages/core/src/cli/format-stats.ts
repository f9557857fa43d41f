import type { StatsSnapshot } from "../stats/stats.js";

export interface StatsReply {
  version: string;
  pid: number;
  stats: StatsSnapshot;
  storages: { kind: string; location: string; sizeBytes: number; entries: number; maxSizeBytes: number }[];
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
    ["  preprocessed", String(s.hitsPreprocessor)],
    ["Cache misses", String(s.misses)],
    ["Failed compiles (not cached)", String(s.compileFailures)],
  ];
  for (const [reason, n] of Object.entries(s.notCacheable).sort()) rows.push([`Not cacheable: ${reason}`, String(n)]);
  for (const [reason, n] of Object.entries(s.errors).sort()) rows.push([`Reprise errors: ${reason}`, String(n)]);
  for (const [sandbox, n] of Object.entries(s.hermetic ?? {}).sort()) rows.push([`Compiled in sandbox: ${sandbox}`, String(n)]);
  for (const [executor, c] of Object.entries(s.remote ?? {}).sort()) {
    rows.push([`Compiled remotely: ${executor}`, String(c.compiles)]);
    rows.push([`  bytes uploaded`, mib(c.bytesUploaded)]);
    if (c.compiles) rows.push([`  round trips per job`, (c.roundTrips / c.compiles).toFixed(2)]);
  }
  if (s.remoteRoundTripMs != null) rows.push(["Remote round trip (median)", `${s.remoteRoundTripMs.toFixed(1)} ms`]);
  for (const [reason, n] of Object.entries(s.fallbacks ?? {}).sort()) rows.push([`Compiled locally instead: ${reason}`, String(n)]);
  rows.push(["Compile time saved", `${(s.timeSavedMs / 1000).toFixed(2)} s`]);
  if (s.hitServiceMs !== null) rows.push(["Daemon time per hit (median)", `${s.hitServiceMs.toFixed(2)} ms`]);
  if (s.missOverheadMs !== null) rows.push(["Daemon overhead per miss (median)", `${s.missOverheadMs.toFixed(2)} ms`]);
  for (const [lang, c] of Object.entries(s.byLanguage).sort()) rows.push([`Language ${lang}`, `${c.hitsDirect + c.hitsPreprocessor} hits, ${c.misses} misses`]);
  for (const st of r.storages) {
    rows.push([`Cache location (${st.kind})`, st.location]);
    rows.push(["Cache size", `${mib(st.sizeBytes)} of ${mib(st.maxSizeBytes)}, ${st.entries} files`]);
  }
  rows.push(["Stats since", s.since]);
  rows.push(["Daemon", `pid ${r.pid}, version ${r.version}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n";
}

function mib(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
