// usage: NODE_OPTIONS="--require <this file>" PROF_OUT=<prefix> PROF_START=<file>: in a Reprise daemon only
// (argv names daemon/entry.js), starts a CPU profile (500 µs sampling) once <file> exists (polled every 50 ms),
// and writes <prefix>.<pid>.cpuprofile at exit (or SIGTERM/SIGINT). Other node processes are left alone.
if ((process.argv[1] || '').includes('daemon/entry.js')) {
  const inspector = require('node:inspector');
  const fs = require('node:fs');
  const out = process.env.PROF_OUT || '/tmp/daemon';
  const startFile = process.env.PROF_START;
  const s = new inspector.Session(); s.connect();
  let started = false; let done = false;
  const start = () => { started = true; s.post('Profiler.setSamplingInterval', { interval: 500 }); s.post('Profiler.enable'); s.post('Profiler.start'); };
  if (!startFile) start();
  else { const t = setInterval(() => { if (fs.existsSync(startFile)) { clearInterval(t); start(); } }, 50); t.unref(); }
  const dump = () => {
    if (done || !started) return; done = true;
    s.post('Profiler.stop', (e, r) => { if (!e) fs.writeFileSync(`${out}.${process.pid}.cpuprofile`, JSON.stringify(r.profile)); });
  };
  process.on('exit', dump);
  for (const sig of ['SIGTERM', 'SIGINT']) process.prependListener(sig, dump);
}
