// (cargo-fresh2) NODE_OPTIONS="--require <this>" for the daemon: sums its GC pauses by kind
// (perf_hooks 'gc' entries) and the heap statistics, written to $GC_OUT every second and at exit
// (the daemon's stdout is not kept, so --trace-gc's lines would be lost).
const { PerformanceObserver } = require("node:perf_hooks");
const { writeFileSync } = require("node:fs");
const v8 = require("node:v8");
const out = process.env.GC_OUT;
if (out && process.argv.some((a) => a.endsWith("daemon/entry.js"))) {
  const kinds = { 1: "scavenge", 2: "mark-compact", 4: "incremental", 8: "weak-cb" };
  const sum = {};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const k = kinds[e.detail?.kind ?? e.kind] ?? String(e.detail?.kind);
      const s = (sum[k] ??= { count: 0, ms: 0 });
      s.count++;
      s.ms += e.duration;
    }
  }).observe({ entryTypes: ["gc"] });
  const dump = () => writeFileSync(out, JSON.stringify({ gc: sum, heap: v8.getHeapStatistics(), spaces: v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]) }, null, 1));
  setInterval(dump, 1000).unref();
  process.on("exit", dump);
}
