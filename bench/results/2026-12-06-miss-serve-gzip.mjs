// gzip levels 1-3 (zlib's fast strategy) on object files: CPU per object and size, levels alternating round by
// round so the shared machine's load falls on each alike. usage: node 2026-12-06-miss-serve-gzip.mjs <object files…>
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
const objs = process.argv.slice(2).map((f) => readFileSync(f));
const levels = [1, 2, 3], cpu = new Map(levels.map((l) => [l, 0])), size = new Map();
const raw = objs.reduce((s, o) => s + o.length, 0);
for (const l of levels) size.set(l, objs.reduce((s, o) => s + gzipSync(o, { level: l }).length, 0));
const rounds = 12, reps = 10;
for (let r = 0; r < rounds; r++) for (const l of r % 2 ? [...levels].reverse() : levels) {
  const t = process.cpuUsage();
  for (let i = 0; i < reps; i++) for (const o of objs) gzipSync(o, { level: l });
  const u = process.cpuUsage(t); cpu.set(l, cpu.get(l) + u.user + u.system);
}
console.log(`${objs.length} objects, ${raw} bytes; ${rounds} alternating rounds`);
for (const l of levels) console.log(`level ${l}: ${(cpu.get(l) / rounds / reps / objs.length).toFixed(1)} us per object, ${(cpu.get(l) / rounds / reps / (raw / 1024)).toFixed(2)} us per KB, size ${(size.get(l) / raw).toFixed(3)} of raw`);
