// usage: node who.mjs prof FN [FROM s]: samples whose stack has FN: per 30 s bucket, and the callers chain of FN
import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync(process.argv[2], "utf8")); const fn = process.argv[3]; const from = Number(process.argv[4] ?? 0);
const byId = new Map(p.nodes.map((n) => [n.id, n])); const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
let t = p.startTime; const times = p.timeDeltas.map((d) => (t += d));
const buckets = {}, callers = new Map(), selfBelow = new Map();
for (let i = 0; i < p.samples.length; i++) {
  const s = (times[i] - p.startTime) / 1e6; if (s < from) continue;
  const d = p.timeDeltas[i + 1] ?? 0; let cur = p.samples[i]; const chain = [];
  while (cur !== undefined) { chain.push(byId.get(cur).callFrame); cur = parent.get(cur); }
  const k = chain.findIndex((c) => c.functionName === fn); if (k < 0) continue;
  const b = Math.floor(s / 30) * 30; buckets[b] = (buckets[b] ?? 0) + d;
  const up = chain.slice(k, k + 6).map((c) => `${c.functionName}:${c.lineNumber}`).join(" < "); callers.set(up, (callers.get(up) ?? 0) + d);
  const leaf = `${chain[0].functionName} ${chain[0].url.split("/").slice(-2).join("/")}:${chain[0].lineNumber}`; selfBelow.set(leaf, (selfBelow.get(leaf) ?? 0) + d);
}
console.log(Object.entries(buckets).map(([b, v]) => `${b}s:${(v / 1000).toFixed(0)}`).join(" "));
for (const [k, v] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log((v / 1000).toFixed(1), k);
console.log("-- leaves"); for (const [k, v] of [...selfBelow].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log((v / 1000).toFixed(1), k);
