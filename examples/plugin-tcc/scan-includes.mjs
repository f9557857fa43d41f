// Usage: node scan-includes.mjs DEPFILE TCC [preprocessor arguments...] SOURCE
// Writes, in Make format, every file `tcc -E` reads (its line markers name
// them), system headers included, which tcc's own -MD leaves out.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const [depFile, tcc, ...args] = process.argv.slice(2);
const r = spawnSync(tcc, ["-E", ...args], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
if (r.status !== 0) {
  process.stderr.write(r.stderr);
  process.exit(r.status ?? 1);
}
const files = new Set();
for (const m of r.stdout.matchAll(/^# \d+ "([^"<][^"]*)"/gm)) files.add(m[1]);
writeFileSync(depFile, `deps: ${[...files].map((f) => f.replace(/ /g, "\\ ")).join(" \\\n  ")}\n`);
