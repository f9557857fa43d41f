#!/usr/bin/env node
// usage: node 2026-12-08-farm-client7-prof.mjs <file.cpuprofile> [jobs=31] [top=40]
// Splits a daemon's CPU profile (from …-preload.cjs) into self time per function and inclusive time per named part
// (a sample counts for a part when any frame of its stack matches; the first matching part in the list's order wins
// for the "exclusive" column, so the parts add up), in ms and ms per job.
import fs from 'node:fs';
const [file, jobsArg = '31', topArg = '40'] = process.argv.slice(2);
const jobs = Number(jobsArg);
const p = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(i, (p.timeDeltas[i + 1] ?? 0) / 1000);
const self = new Map();
const stacks = [];
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const ms = dt.get(i);
  const n = byId.get(p.samples[i]);
  total += ms;
  self.set(label(n), (self.get(label(n)) ?? 0) + ms);
  const stack = [];
  for (let id = n.id; id !== undefined; id = parent.get(id)) stack.push(byId.get(id));
  stacks.push([ms, stack]);
}
const parts = [
  ['(idle)', (f) => f.functionName === '(idle)'],
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['(program)', (f) => f.functionName === '(program)'],
  ['toolchain (describe/package/isCurrent)', (f) => /toolchain|gccToolchainSpec|describeToolchain|collectToolchain|packagedAs/.test(f.url + f.functionName) && !/speculation/.test(f.url)],
  ['equivalence probe', (f) => /portable|equivalen|probe/i.test(f.functionName + f.url)],
  ['hit index / manifests', (f) => /hit-index/.test(f.url)],
  ['prediction (predict-includes)', (f) => /predict-includes|predict/.test(f.url)],
  ['speculation check', (f) => /speculation/.test(f.url)],
  ['buildJob', (f) => /build-job/.test(f.url)],
  ['input store', (f) => /input-store/.test(f.url)],
  ['builder-client (run/put)', (f) => /builder-client/.test(f.url)],
  ['result receiver', (f) => /result-receiver/.test(f.url)],
  ['scheduler-client', (f) => /scheduler-client/.test(f.url)],
  ['undici', (f) => /undici/.test(f.url)],
  ['storage (local store)', (f) => /core\/dist\/storage|\/storage\//.test(f.url)],
  ['JSON', (f) => /^JSON|stringify|parse$/.test(f.functionName)],
  ['other', () => true],
];
const excl = new Map(parts.map(([n]) => [n, 0]));
const incl = new Map(parts.map(([n]) => [n, 0]));
for (const [ms, stack] of stacks) {
  let first = null;
  for (const [name, m] of parts) {
    if (name === 'other') continue;
    if (stack.some((s) => m(s.callFrame))) { incl.set(name, incl.get(name) + ms); first ??= name; }
  }
  excl.set(first ?? 'other', excl.get(first ?? 'other') + ms);
}
const busy = total - excl.get('(idle)');
console.log(`profile ${file}: ${total.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms not idle, ${jobs} jobs: ${(busy / jobs).toFixed(1)} ms per job`);
console.log('part | inclusive ms | per job | exclusive ms (first part in order) | per job');
for (const [name] of parts) console.log(`${name} | ${incl.get(name).toFixed(0)} | ${(incl.get(name) / jobs).toFixed(1)} | ${excl.get(name).toFixed(0)} | ${(excl.get(name) / jobs).toFixed(1)}`);
console.log('\nself time, top functions:');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg))) console.log(`${v.toFixed(1).padStart(8)}  ${k}`);
// Inclusive time per function (each sample counted once per function on its stack).
const inclFn = new Map();
for (const [ms, stack] of stacks) {
  for (const l of new Set(stack.map(label))) inclFn.set(l, (inclFn.get(l) ?? 0) + ms);
}
console.log('\ninclusive time, top functions (ms, ms per job):');
for (const [k, v] of [...inclFn].filter(([k]) => !/^\(root\)|^\(idle\)/.test(k)).sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOPI ?? 120))) console.log(`${v.toFixed(0).padStart(7)} ${(v / jobs).toFixed(1).padStart(6)}  ${k}`);
