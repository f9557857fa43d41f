// The store's absent-path plan of a farm job, after the speculation check made one of the same files: worked out
// again (absentPaths, as before session 12) or taken from the check's (forStore). Over yaml-cpp's real closures
// (every src/*.cpp scanned with g++ -M), one daemon's memo kept across jobs, each job a distinct source; CPU of the
// store's step only, both ways alternated per job, and whether the two plans are equal.
// usage: W=<checkout, built> YAML=<yaml-cpp source tree> node 2026-12-07-header-facts-store-plan.mjs [rounds]
import { isDeepStrictEqual } from "node:util";
import { yamlCppClosures } from "./2026-12-07-header-facts-closures.mjs";
const { forStore, sinceNsOf } = await import(`${process.env.W}/packages/core/dist/engine/absent-plan.js`);
const { closures, listings, plan, cleanup } = await yamlCppClosures(process.env.W, process.env.YAML);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const rounds = Number(process.argv[2] ?? 10);
let again = 0, taken = 0, n = 0, differ = 0;
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < closures.length; k++) {
    const closure = closures[k];
    const since = Date.now() - 50;
    // Each job: a new build's memo of whole closures is empty for it (distinct sources), as in a cold build.
    listings.absent.closures.map.clear();
    const checked = plan(closure, Date.now(), () => true);
    if (!checked.ok) throw new Error(JSON.stringify(checked));
    const order = (r + k) % 2;
    let a, b;
    for (const way of order ? ["taken", "again"] : ["again", "taken"]) {
      const t0 = cpu();
      if (way === "again") { a = plan(closure, since); again += cpu() - t0; } else { b = forStore(checked, sinceNsOf(since)); taken += cpu() - t0; }
    }
    // The check's memo of the closure lets the store adopt it: compare what each returns but `adopted`.
    if (!isDeepStrictEqual({ ...a, adopted: 0 }, { ...b, adopted: 0 })) differ++;
    n++;
  }
}
console.log(`jobs ${n}: the store's plan worked out again ${(again / n).toFixed(3)} ms, taken from the check's ${(taken / n).toFixed(3)} ms; plans differing: ${differ}`);
cleanup();
