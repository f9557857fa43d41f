// CPU of absentPaths alone (the absent-path plan of a direct-mode store), over N stores of yaml-cpp's real
// closures (every src/*.cpp scanned with g++ -M), each store a distinct source, the daemon's memo kept across stores:
// the repeated per-miss work of a build whose misses read mostly the same headers in different sets.
// usage: W=<checkout, built> YAML=<yaml-cpp source tree> node 2026-12-07-header-facts-absent.mjs [N]
// Prints CPU per store and a digest of the plans (identities left out) that two checkouts must share.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, mkdtempSync, cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
const W = process.env.W; const core = `${W}/packages/core/dist`;
const { absentPaths } = await import(`${core}/engine/absent-paths.js`);
const { DirListings } = await import(`${core}/engine/dir-listings.js`);
const { quotedIncludes } = await import(`${core}/engine/quoted-includes.js`);
const { hashBytes } = await import(`${core}/hashing/key-hasher.js`);
const { parseIncludeSearch } = await import(`${W}/packages/plugin-gcc/dist/index.js`);
const T = mkdtempSync(join(tmpdir(), "hf-absent-"));
cpSync(process.env.YAML, T, { recursive: true });
const F = ["-std=c++11", "-Iinclude", "-Isrc", "-O2"];
const srcs = readdirSync(join(T, "src")).filter((f) => f.endsWith(".cpp")).map((f) => join(T, "src", f));
const closures = srcs.map((src) => {
  const dep = execFileSync("g++", [...F, "-M", src], { cwd: T, encoding: "utf8" });
  return dep.replace(/\\\n/g, " ").split(":").slice(1).join(":").trim().split(/\s+/).map((p) => (p.startsWith("/") ? p : join(T, p)));
});
const v = execFileSync("sh", ["-c", `g++ ${F.join(" ")} -E -v -x c++ /dev/null -o /dev/null 2>&1`], { cwd: T, encoding: "utf8" });
const search = parseIncludeSearch({ stdout: "", stderr: v, exitCode: 0, cwd: T });
const hashes = new Map(); for (const c of closures) for (const h of c) if (!hashes.has(h)) hashes.set(h, hashBytes(readFileSync(h)));
await new Promise((r) => setTimeout(r, 3000));
const listings = new DirListings();
const run = (k) => { const closure = closures[k % closures.length]; const src = closure[0]; return absentPaths({ closure, source: src, cwd: T, search, probed: [], probedQuoted: [], quoted: (f) => quotedIncludes(f, hashes.get(f), f !== src), args: [...F, "-c", src], since: Date.now() - 50, hashOf: (f) => hashes.get(f) }, listings.session(), listings.absent); };
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
rmSync(T, { recursive: true, force: true });
