// CPU of absentPaths alone (the absent-path plan of a direct-mode store), over N stores of yaml-cpp's real
// closures (every src/*.cpp scanned with g++ -M), each store a distinct source, the daemon's memo kept across stores:
// the repeated per-miss work of a build whose misses read mostly the same headers in different sets.
// usage: W=<checkout, built> YAML=<yaml-cpp source tree> node 2026-12-07-header-facts-absent.mjs [N]
// Prints CPU per store and a digest of the plans (identities left out) that two checkouts must share.
import { createHash } from "node:crypto";
import { yamlCppClosures } from "./2026-12-07-header-facts-closures.mjs";
const { T, closures, listings, plan, cleanup } = await yamlCppClosures(process.env.W, process.env.YAML);
const run = (k) => plan(closures[k % closures.length], Date.now() - 50);
// Once each (the first sight of every header), then N stores round the sources, as a build's later misses.
const digest = createHash("sha1");
const f0 = process.cpuUsage();
for (let k = 0; k < closures.length; k++) { const r = run(k); if (!r.ok) console.log(r); digest.update(JSON.stringify(r).replaceAll(T, "T").replace(/"id":"[^"]*"/g, "").replace(/"adopted":(true|false)/, "")); }
const f1 = process.cpuUsage(f0);
console.log(`first sight of every source: cpu ${((f1.user + f1.system) / 1000).toFixed(1)} ms in all`);
const n = Number(process.argv[2] ?? 300);
const distinct = new Set(closures.flat()).size;
console.log("sources", closures.length, "distinct files", distinct, "mean closure", (closures.reduce((a, c) => a + c.length, 0) / closures.length).toFixed(0));
// The closure memo would adopt a whole plan for a source seen before: a build's misses are distinct sources, so it is emptied between stores.
const fresh = process.env.ADOPT ? () => {} : () => listings.absent.closures.map.clear();
const t0 = process.cpuUsage();
for (let i = 0; i < n; i++) { fresh(); run(i); }
const t = process.cpuUsage(t0);
console.log(`absentPaths per store: cpu ${((t.user + t.system) / 1000 / n).toFixed(3)} ms`);
for (let k = 0; k < closures.length; k++) { fresh(); const r = run(k); digest.update(JSON.stringify(r).replaceAll(T, "T").replace(/"id":"[^"]*"/g, "").replace(/"adopted":(true|false)/, "")); }
console.log("plans", digest.digest("hex"));
cleanup();
