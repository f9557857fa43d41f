// Preloaded into the daemon (NODE_OPTIONS=--require): node:inspector's CPU profiler from start to exit, written to
// $PROF_DIR/daemon-<pid>.cpuprofile (--cpu-prof is refused in NODE_OPTIONS).
const inspector = require("node:inspector");
const fs = require("node:fs");
if (process.argv.some((a) => a.includes("daemon/entry.js"))) {
  const session = new inspector.Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  session.post("Profiler.start");
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    session.post("Profiler.stop", (err, r) => {
      if (!err) fs.writeFileSync(`${process.env.PROF_DIR || "/tmp"}/daemon-${process.pid}.cpuprofile`, JSON.stringify(r.profile));
    });
  };
  process.on("exit", write);
  for (const s of ["SIGTERM", "SIGINT"]) process.prependListener(s, write);
}
