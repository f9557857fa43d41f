// Where a daemon's CPU went in a `--cpu-prof` profile, per miss: self and inclusive time by function.
// usage: FROM=<s> TO=<s> node 2026-12-06-miss-cpu4-prof.mjs <file.cpuprofile> <misses in the window> [top self] [top inclusive]
// FROM/TO: the window in seconds from the profile's start (skip the start-up and the first miss, which hashes and
// lexes every header); without them, from the 10th % of the samples inside compileThenStore to the last.
// The profile samples wall time while the thread runs: on a loaded machine, preemption inside a syscall shows as
// time in it, so totals run above /proc's CPU; use it for shares, not for totals.
import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync(process.argv[2], "utf8"));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const key = (c) => `${c.functionName || "(anon)"} ${c.url.replace(/.*\/(packages|node_modules)\//, "$1/")}:${c.lineNumber}`;
const has = (id, name) => { let cur = id; while (cur !== undefined) { if (byId.get(cur).callFrame.functionName === name) return true; cur = parent.get(cur); } return false; };
let t = p.startTime; const times = p.timeDeltas.map((d) => (t += d));
const marks = []; for (let i = 0; i < p.samples.length; i++) if (has(p.samples[i], "compileThenStore")) marks.push(times[i]);
const from = process.env.FROM ? p.startTime + Number(process.env.FROM) * 1e6 : marks[Math.floor(marks.length * 0.1)], to = process.env.TO ? p.startTime + Number(process.env.TO) * 1e6 : marks[marks.length - 1];
console.log("window s", ((to - from) / 1e6).toFixed(2));
const self = new Map(), incl = new Map(); let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  if (times[i] < from || times[i] > to) continue;
  const d = p.timeDeltas[i + 1] ?? 0; const id = p.samples[i]; const n = byId.get(id);
  if (n.callFrame.functionName === "(idle)") continue;
  total += d; self.set(key(n.callFrame), (self.get(key(n.callFrame)) ?? 0) + d);
  const seen = new Set(); let cur = id; while (cur !== undefined) { const k = key(byId.get(cur).callFrame); if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + d); } cur = parent.get(cur); }
}
const N = Number(process.argv[3] ?? 90);
console.log("busy ms in window", (total / 1000).toFixed(0), " per miss:", (total / 1000 / N).toFixed(2));
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / 1000 / N).toFixed(3).padStart(8)} ms/miss ${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`).join("\n");
console.log("--- self"); console.log(top(self, Number(process.argv[4] ?? 30)));
console.log("--- inclusive"); console.log(top(incl, Number(process.argv[5] ?? 60)));
