// Sampled allocations (collected included) by allocating function, and by stacks with a marker function.
import { readFileSync } from "node:fs";
const p = JSON.parse(readFileSync(process.argv[2], "utf8")); const N = Number(process.argv[3] ?? 1);
const self = new Map(), incl = new Map(); let total = 0;
const key = (c) => `${c.functionName || "(anon)"} ${c.url.replace(/.*\/(packages|node_modules)\//, "$1/")}:${c.lineNumber}`;
function walk(n, stack) {
  const k = key(n.callFrame); const s = [...stack, k];
  if (n.selfSize) { total += n.selfSize; self.set(k, (self.get(k) ?? 0) + n.selfSize); for (const x of new Set(s)) incl.set(x, (incl.get(x) ?? 0) + n.selfSize); }
  for (const c of n.children ?? []) walk(c, s);
}
walk(p.head, []);
console.log("total MB per N", (total / 1e6 / N).toFixed(2));
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / 1e6 / N).toFixed(3).padStart(8)} MB ${k}`).join("\n");
console.log("--- self"); console.log(top(self, 30)); console.log("--- incl"); console.log(top(incl, Number(process.argv[4] ?? 80)));
