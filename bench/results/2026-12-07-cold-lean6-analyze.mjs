// Self and inclusive sample counts by function from a .cpuprofile (idle/program/garbage collector kept apart).
import fs from 'node:fs';
const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const topN = Number((process.argv.find((a) => a.startsWith('--top=')) ?? '--top=40').slice(6));
const self = new Map(), incl = new Map(); let total = 0, idle = 0;
for (const f of files) {
  const p = JSON.parse(fs.readFileSync(f, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n])); const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const count = new Map(); for (const s of p.samples) count.set(s, (count.get(s) ?? 0) + 1);
  for (const [id, c] of count) {
    const n = byId.get(id); const name = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
    if (n.callFrame.functionName === '(idle)') { idle += c; continue; }
    total += c; self.set(name, (self.get(name) ?? 0) + c);
    const seen = new Set(); let cur = id;
    while (cur !== undefined) { const m = byId.get(cur); const nm = `${m.callFrame.functionName || '(anon)'} ${m.callFrame.url.split('/').slice(-2).join('/')}:${m.callFrame.lineNumber}`; if (!seen.has(nm)) { seen.add(nm); incl.set(nm, (incl.get(nm) ?? 0) + c); } cur = parent.get(cur); }
  }
}
console.log(`busy samples ${total}, idle ${idle}`);
console.log('--- self'); for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, topN)) console.log((100 * v / total).toFixed(1).padStart(5), k);
console.log('--- inclusive'); for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, topN * 2)) console.log((100 * v / total).toFixed(1).padStart(5), k);
