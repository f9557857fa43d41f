// usage: THIS=/path/to/checkout BASE=/path/to/other/checkout node 2026-12-07-farm-client4-putfile.mjs (both built)
// putFile of 161 held blobs, each not marked by this store within the minute (a fresh InputStore per job), pair by pair.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
const [A, B] = await Promise.all([(process.env.THIS ?? "."), process.env.BASE].map((r) => import(`${resolve(r)}/packages/core/dist/index.js`)));
const dir = mkdtempSync(join(tmpdir(), "putfile-"));
const files = Array.from({ length: 161 }, (_, i) => { const f = join(dir, `h${i}.h`); writeFileSync(f, `// header ${i}\n`.repeat(40)); return f; });
const hashes = files.map((f) => A.hashBytes(Buffer.from(`// header ${files.indexOf(f)}\n`.repeat(40))));
const job = async (mod) => { const s = new mod.InputStore(join(dir, "store")); for (let i = 0; i < files.length; i++) if (!(await s.putFile(files[i], hashes[i]))) throw new Error("changed"); };
await job(A); await job(B);
const cpu = async (mod) => { const t = process.cpuUsage(); for (let k = 0; k < 20; k++) await job(mod); const u = process.cpuUsage(t); return (u.user + u.system) / 1000 / 20; };
const rows = [];
for (let p = 0; p < 10; p++) { const order = p % 2 ? [A, B] : [B, A]; const r = {}; for (const m of order) r[m === A ? "this" : "base"] = await cpu(m); rows.push(r); }
const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
console.log("putFile x161, ms CPU per job: this", med(rows.map((r) => r.this)).toFixed(3), "base", med(rows.map((r) => r.base)).toFixed(3), "this-base per pair", med(rows.map((r) => r.this - r.base)).toFixed(3));
rmSync(dir, { recursive: true, force: true });
