// CPU of absentPaths (the absent-path guards of a direct-mode store) alone, over N stores of libuv's
// test/test-tcp-open.c (196 headers, each store a distinct source), with the daemon's memo kept across stores.
// usage: W=<checkout, built> LIBUV=<libuv1 source tree> node 2026-12-06-miss-guards-absent.mjs [N]
// env: VARY=1   each store's closure leaves out one header (another each time): no two stores read the same headers;
//      WRITE=1  an object is written into the source directory before each store (as a build does);
//      DUMP=1   prints one store's plan (paths relative to the scratch directory), to compare checkouts.
// Prints the CPU per store and a digest of one plan (identities left out) that two checkouts must share.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, cpSync, rmSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
const W = process.env.W; const core = `${W}/packages/core/dist`;
const { absentPaths } = await import(`${core}/engine/absent-paths.js`);
const { DirListings } = await import(`${core}/engine/dir-listings.js`);
const { quotedIncludes } = await import(`${core}/engine/quoted-includes.js`);
const { hashBytes } = await import(`${core}/hashing/key-hasher.js`);
const { parseIncludeSearch } = await import(`${W}/packages/plugin-gcc/dist/index.js`);
const T = mkdtempSync(join(tmpdir(), "absent-bench-"));
for (const f of ["include", "test/test-tcp-open.c", "test/task.h", "test/runner.h", "test/runner-unix.h"]) cpSync(join(process.env.LIBUV, f), join(T, f.replace("test/", "")), { recursive: true });
const F = "-D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -D_LARGEFILE_SOURCE -D_POSIX_C_SOURCE=200112 -Iinclude -std=gnu90".split(" ");
const n = Number(process.argv[2] ?? 200);
const srcs = []; const base = readFileSync(join(T, "test-tcp-open.c"), "utf8");
for (let i = 0; i <= n; i++) { const p = join(T, `t${i}.c`); writeFileSync(p, base + `int unique_${i};\n`); utimesSync(p, new Date(Date.now() - 5000), new Date(Date.now() - 5000)); srcs.push(p); }
const dep = execFileSync("gcc", [...F, "-M", "t0.c"], { cwd: T, encoding: "utf8" });
const headers = dep.replace(/\\\n/g, " ").split(":").slice(1).join(":").trim().split(/\s+/).slice(1).map((p) => p.startsWith("/") ? p : join(T, p));
const v = execFileSync("sh", ["-c", `gcc ${F.join(" ")} -E -v -x c /dev/null -o /dev/null 2>&1`], { cwd: T, encoding: "utf8" });
const search = parseIncludeSearch({ stdout: "", stderr: v, exitCode: 0, cwd: T });
const hashes = new Map(); for (const h of [...headers, ...srcs]) hashes.set(h, hashBytes(readFileSync(h)));
await new Promise((r) => setTimeout(r, 3000));
const listings = new DirListings();
const run = (src, i = 0) => (process.env.WRITE && writeFileSync(join(T, `o${i % 2}.o`), String(i)), absentPaths({ closure: [src, ...(process.env.VARY ? headers.filter((_, k) => k !== i % headers.length) : headers)], source: src, cwd: T, search, probed: [], probedQuoted: [], quoted: (f) => quotedIncludes(f, hashes.get(f), f !== src), args: [...F, "-c", src], since: Date.now() - 50, hashOf: (f) => hashes.get(f) }, listings.session(), listings.absent));
const first = run(srcs[0]); if (!first.ok) console.log(first);
console.log("headers", headers.length, "guards", first.guards.length, "guard names", first.guards.reduce((a, g) => a + g.names.length, 0));
for (let i = 1; i <= 20; i++) run(srcs[i]);
const t0 = process.cpuUsage(); const w0 = performance.now();
for (let i = 1; i <= n; i++) run(srcs[i], i);
const t = process.cpuUsage(t0);
console.log(`absentPaths per miss: cpu ${((t.user + t.system) / 1000 / n).toFixed(3)} ms, wall ${((performance.now() - w0) / n).toFixed(3)} ms`);
{ const r = run(srcs[1]); r.guards.sort((a, b) => a.dir.localeCompare(b.dir)); if (process.env.DUMP) console.log(JSON.stringify(r, null, 1).replaceAll(T, "T")); console.log(JSON.stringify(r).replaceAll(T, "T").replace(/"id":"[^"]*"/g, "").length, (await import("node:crypto")).createHash("sha1").update(JSON.stringify(r).replaceAll(T, "T").replace(/"id":"[^"]*"/g, "")).digest("hex")); }
rmSync(T, { recursive: true, force: true });
