/**
 * The log of hits the native client answered from the hit index, one line
 * each, appended to <runtime>/hit-index/hits.log (O_APPEND, one write):
 *
 *   <entry name, 16 hex> <service µs> <language> <plugin> <original compile ms>
 *
 * The last three come from the entry (the daemon wrote them); the daemon
 * folds the lines into its stats (HitIndex.fold).
 */
export const HIT_LOG = "hits.log";

export interface LoggedHit {
  name: string;
  serviceMs: number;
  language: string;
  plugin: string;
  compileMs: number;
}

const LINE = /^([0-9a-f]{16}) (\d{1,9}) ([A-Za-z0-9_.+@/-]{1,128}) ([A-Za-z0-9_.+@/-]{1,128}) (\d{1,9})$/;

export function parseHitLine(line: string): LoggedHit | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  return { name: m[1]!, serviceMs: Number(m[2]) / 1000, language: m[3]!, plugin: m[4]!, compileMs: Number(m[5]) };
}
