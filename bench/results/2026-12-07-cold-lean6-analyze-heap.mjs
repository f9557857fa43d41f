import fs from 'node:fs';
const p = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const self = new Map(), incl = new Map(); let total = 0;
const walk = (n, stack) => {
  const name = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-1)[0]}:${n.callFrame.lineNumber}`;
  const st = [...stack, name];
  if (n.selfSize) { total += n.selfSize; self.set(name, (self.get(name) ?? 0) + n.selfSize); for (const s of new Set(st)) incl.set(s, (incl.get(s) ?? 0) + n.selfSize); }
  for (const c of n.children) walk(c, st);
};
walk(p.head, []);
console.log('total MB', (total / 1e6).toFixed(1));
console.log('--- self'); for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((v / 1e6).toFixed(2).padStart(7), k);
console.log('--- incl'); for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 60)) console.log((v / 1e6).toFixed(2).padStart(7), k);
