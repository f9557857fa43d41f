// Top-down tree of a .cpuprofile (merged by call path), children above a share; node tree.mjs file... --min=0.8
import fs from 'node:fs';
const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const min = Number((process.argv.find((a) => a.startsWith('--min=')) ?? '--min=1').slice(6));
const root = { name: 'root', n: 0, kids: new Map() }; let total = 0;
for (const f of files) {
  const p = JSON.parse(fs.readFileSync(f, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n])); const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const count = new Map(); for (const s of p.samples) count.set(s, (count.get(s) ?? 0) + 1);
  for (const [id, c] of count) {
    if (byId.get(id).callFrame.functionName === '(idle)') continue;
    total += c; const path = []; let cur = id;
    while (cur !== undefined) { const m = byId.get(cur); path.unshift(`${m.callFrame.functionName || '(anon)'}:${m.callFrame.lineNumber}`); cur = parent.get(cur); }
    let node = root; node.n += c;
    for (const nm of path.slice(1)) { let k = node.kids.get(nm); if (!k) node.kids.set(nm, (k = { name: nm, n: 0, kids: new Map() })); k.n += c; node = k; }
  }
}
const skip = /^(processTicksAndRejections|runMicrotasks|processImmediate|\(anon\)):/;
const show = (node, depth) => {
  for (const k of [...node.kids.values()].sort((a, b) => b.n - a.n)) {
    if (100 * k.n / total < min) continue;
    console.log(`${'  '.repeat(depth)}${(100 * k.n / total).toFixed(1)} ${k.name}`);
    show(k, depth + 1);
  }
};
console.log('total', total); show(root, 0);
