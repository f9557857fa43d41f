// usage: NODE_OPTIONS="--require <this file>" PROF_OUT=<prefix> (bench/builder-yaml-cpu.mjs --builder-preload=<this file>).
// Preloaded into a builder: the first SIGUSR2 starts a CPU profile (200 µs samples), the second writes it and GC entries.
const inspector = require('node:inspector');
const fs = require('node:fs');
const { PerformanceObserver } = require('node:perf_hooks');
const out = process.env.PROF_OUT || '/tmp/builder';
const s = new inspector.Session();
s.connect();
let gc = null;
const obs = new PerformanceObserver((l) => { if (gc) for (const e of l.getEntries()) gc.push([Math.round(e.startTime), +e.duration.toFixed(3), e.detail?.kind]); });
obs.observe({ entryTypes: ['gc'] });
process.on('SIGUSR2', () => {
  if (!gc) {
    gc = [];
    s.post('Profiler.setSamplingInterval', { interval: 200 });
    s.post('Profiler.enable');
    s.post('Profiler.start');
    return;
  }
  s.post('Profiler.stop', (e, r) => { if (!e) fs.writeFileSync(`${out}.${process.pid}.cpuprofile`, JSON.stringify(r.profile)); });
  fs.writeFileSync(`${out}.${process.pid}.gc.json`, JSON.stringify(gc));
  gc = null;
});
