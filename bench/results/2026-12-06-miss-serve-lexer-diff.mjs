// gcc's comment-blind lexer, a base checkout's against this one's: the same answer (text, or exact bytes only, and
// whether the file embeds) for every C/C++ file under the given directories, in both dialects; and each one's CPU.
// usage: BASE=<checkout> node 2026-12-06-miss-serve-lexer-diff.mjs <dir…>   (e.g. /usr/include /usr/lib/gcc <libuv tree>)
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
const here = fileURLToPath(new URL("../..", import.meta.url));
const a = (await import(`${process.env.BASE}/packages/plugin-gcc/dist/comment-blind-text.js`)).commentBlindText;
const b = (await import(`${here}/packages/plugin-gcc/dist/comment-blind-text.js`)).commentBlindText;
const found = execFileSync("find", [...process.argv.slice(2), "-type", "f", "(", "-name", "*.h", "-o", "-name", "*.c", "-o", "-name", "*.hpp", "-o", "-name", "*.cc", "-o", "-name", "*.cpp", "-o", "-name", "*.tcc", "-o", "!", "-name", "*.*", ")"], { maxBuffer: 1 << 28 }).toString().trim().split("\n");
let files = 0, bytes = 0, differ = 0, exactOnly = 0, ta = 0, tb = 0;
for (const f of found) {
  let d; try { d = readFileSync(f); } catch { continue; }
  files++; bytes += d.length;
  for (const dialect of ["c", "c++"]) {
    let t = process.cpuUsage(); const x = a(d, dialect); ta += process.cpuUsage(t).user;
    t = process.cpuUsage(); const y = b(d, dialect); tb += process.cpuUsage(t).user;
    if (x.embeds !== y.embeds || (x.text === null) !== (y.text === null) || (x.text && !x.text.equals(y.text))) { differ++; console.log("differs:", f, dialect); }
    if (x.text === null) exactOnly++;
  }
}
console.log({ files, MB: (bytes / 1e6).toFixed(1), differ, exactOnly, baseCpuMs: Math.round(ta / 1000), thisCpuMs: Math.round(tb / 1000) });
