// usage: node 2026-12-07-cargo-fresh-phases.cjs <daemon .cpuprofile> [x]: a profile's samples by phase (first matching frame on the stack, in the order below); with x, the top stacks left in "other".
const p = JSON.parse(require('fs').readFileSync(process.argv[2]));
const byId = new Map(p.nodes.map(n => [n.id, n])); const parent = new Map(); for (const n of p.nodes) for (const c of n.children || []) parent.set(c, n.id);
const cats = [
  ['start-up: module loading', /loadAndTranslate|getModuleJobForImport|compileForInternalLoader|compileForPublicLoader|run_main_module|executeUserEntryPoint|^evaluate$|module_job/],
  ['start-up: daemon set-up (config, plugins, lock, socket)', /^startDaemon$|^startIn$/],
  ['parse: plugin result check (zod)', /^safeParse$/],
  ['parse: the plugin (rustc arguments)', /^parse$/],
  ['compiler detection', /^detect$/],
  ['store: CRC of the kernel-copied output', /^crc32OfFile$/],
  ['store: manifest, entry writes', /^store$|^writeEntry$|^recordInManifest$/],
  ['compile: run, capture, copy of largest output', /^compileThenStore$|^capture$|^runCompiler$/],
  ['lookup: digests, manifest read, key', /^serveDirectMode$|^baseKey$|^collectIncludes$/],
  ['request/response I/O', /^handle$|^onStreamRead$|^afterShutdown$|^serve$/],
  ['garbage collector', /^\(garbage collector\)$/],
];
const tot = new Map(); let all = 0;
for (let i = 0; i < p.samples.length; i++) { const us = p.timeDeltas[i+1] ?? 0; let x = p.samples[i]; const names = []; while (x != null) { names.push(byId.get(x).callFrame.functionName); x = parent.get(x); }
  if (names[0] === '(idle)') continue; all += us;
  let c = 'other'; for (const [k, re] of cats) if (names.some(n => re.test(n))) { c = k; break; }
  tot.set(c, (tot.get(c) || 0) + us); }
for (const [k, v] of [...tot].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${(v/1000).toFixed(0)} | ${(100*v/all).toFixed(1)} % |`);
console.log('| all (sampled) |', (all/1000).toFixed(0), '| 100 % |');
if (process.argv[3]) { const m = new Map();
for (let i = 0; i < p.samples.length; i++) { const us = p.timeDeltas[i+1] ?? 0; let x = p.samples[i]; const names = []; const nodes=[]; while (x != null) { nodes.push(byId.get(x)); names.push(byId.get(x).callFrame.functionName); x = parent.get(x); }
  if (names[0] === '(idle)') continue; if (cats.some(([k, re]) => names.some(n => re.test(n)))) continue;
  const k = nodes.slice(0, 4).map(n => `${n.callFrame.functionName||'(anon)'}@${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`).reverse().join(' > '); m.set(k, (m.get(k)||0)+us); }
for (const [k,v] of [...m].sort((a,b)=>b[1]-a[1]).slice(0,15)) console.log((v/1000).toFixed(0).padStart(5), k); }
