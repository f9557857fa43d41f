// usage: NODE_OPTIONS="--require <this file>" (bench/farm-client-vs.mjs --daemon-preload=<this file>); PROF_MODE=cpu|heap, PROF_OUT=<prefix>.
// Preloaded into a daemon: CPU profile + GC entries + sampled allocations (collected ones included), written at exit.
const inspector = require('node:inspector');
const fs = require('node:fs');
const { PerformanceObserver } = require('node:perf_hooks');
const out = process.env.PROF_OUT || '/tmp/daemon';
const s = new inspector.Session(); s.connect();
const mode = process.env.PROF_MODE || 'cpu';
if (mode === 'cpu') { s.post('Profiler.setSamplingInterval', { interval: +(process.env.PROF_INT||200) }); s.post('Profiler.enable'); s.post('Profiler.start'); }
if (mode === 'heap') { s.post('HeapProfiler.enable'); s.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }); }
const gc = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) gc.push([Math.round(e.startTime), +e.duration.toFixed(3), e.detail?.kind]); }).observe({ entryTypes: ['gc'] });
let done = false;
const dump = () => {
  if (done) return; done = true;
  if (mode === 'cpu') s.post('Profiler.stop', (e, r) => { if (!e) fs.writeFileSync(`${out}.${process.pid}.cpuprofile`, JSON.stringify(r.profile)); });
  if (mode === 'heap') s.post('HeapProfiler.stopSampling', (e, r) => { if (!e) fs.writeFileSync(`${out}.${process.pid}.heapprofile`, JSON.stringify(r.profile)); });
  fs.writeFileSync(`${out}.${process.pid}.gc.json`, JSON.stringify(gc));
};
process.on('exit', dump);
for (const sig of ['SIGTERM', 'SIGINT']) process.prependListener(sig, dump);
process.on('SIGUSR2', () => { done = false; dump(); });
