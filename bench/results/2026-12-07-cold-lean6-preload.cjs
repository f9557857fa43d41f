// Preloaded into a daemon (NODE_OPTIONS=--require): CPU profile (unless PROF_INTERVAL=0) and GC entries; SIGUSR2 writes
// the profile so far as <PROF_OUT>.<n>.cpuprofile and the GC entries as <PROF_OUT>.<n>.gc.json, and starts again.
const inspector = require('node:inspector');
const fs = require('node:fs');
const { PerformanceObserver } = require('node:perf_hooks');
const out = process.env.PROF_OUT || '/tmp/daemon';
const interval = Number(process.env.PROF_INTERVAL ?? 500);
const s = new inspector.Session(); s.connect();
if (interval) { s.post('Profiler.enable'); s.post('Profiler.setSamplingInterval', { interval }); s.post('Profiler.start'); }
let gc = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) gc.push([e.detail?.kind, +e.duration.toFixed(3)]); }).observe({ entryTypes: ['gc'] });
let n = 0;
process.on('SIGUSR2', () => {
  const k = n++;
  fs.writeFileSync(`${out}.${k}.gc.json`, JSON.stringify(gc)); gc = [];
  if (interval) s.post('Profiler.stop', (e, r) => { if (!e) fs.writeFileSync(`${out}.${k}.cpuprofile`, JSON.stringify(r.profile)); s.post('Profiler.start'); });
});
