// Preloaded into a daemon: sampled allocations (collected ones included); SIGUSR2 writes <PROF_OUT>.<n>.heapprofile and starts again.
const inspector = require('node:inspector');
const fs = require('node:fs');
const out = process.env.PROF_OUT || '/tmp/daemon';
const s = new inspector.Session(); s.connect();
const start = () => s.post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
s.post('HeapProfiler.enable'); start();
let n = 0;
process.on('SIGUSR2', () => { const k = n++; s.post('HeapProfiler.stopSampling', (e, r) => { if (!e) fs.writeFileSync(`${out}.${k}.heapprofile`, JSON.stringify(r.profile)); start(); }); });
