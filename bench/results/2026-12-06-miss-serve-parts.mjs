// The parts of a cold miss this pass changed, base checkout against this one, alternating round by round (CPU time
// of this process, so a shared machine's load falls on both alike). usage:
//   BASE=<checkout> LIBUV=<libuv1 tree> OBJ=<an object of test-tcp-open.c> node 2026-12-06-miss-serve-parts.mjs
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
const here = fileURLToPath(new URL("../..", import.meta.url));
const load = async (w) => ({
  lex: (await import(`${w}/packages/plugin-gcc/dist/comment-blind-text.js`)).commentBlindText,
  codec: await import(`${w}/packages/core/dist/storage/codec.js`),
  results: await import(`${w}/packages/core/dist/engine/plugin-results.js`),
  fnv: (await import(`${w}/packages/core/dist/hit-index/entry-format.js`)).fnv1a64,
});
const sides = { base: await load(process.env.BASE), branch: await load(here) };
const src = readFileSync(`${process.env.LIBUV}/test/test-tcp-open.c`);
const obj = readFileSync(process.env.OBJ);
const files = Array.from({ length: 196 }, (_, i) => `/usr/include/x86_64-linux-gnu/header-${i}.h`);
const list = { files, identities: new Map(files.map((f) => [f, "1 2 3 4 5"])) };
const entry = { outputs: [{ role: "object", data: obj }], stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0, compileMs: 100, createdAt: 0 };
const request = Buffer.alloc(1751, 7);
const parts = {
  "text digest of the source (8.7 KB)": (s) => s.lex(src, "c"),
  "entry encoding (27 KB object, gzip)": (s) => s.codec.encodeEntry(entry, "a".repeat(64)),
  "dependency list check (196 files)": (s) => (s.results.plainDependencyList?.(list) || s.results.dependencyListSchema.safeParse(list)),
  "hit-index FNV-1a of a request (1.7 KB)": (s) => s.fnv(request),
};
const cpu = new Map();
for (let round = 0; round < 10; round++) {
  for (const side of round % 2 ? ["branch", "base"] : ["base", "branch"]) {
    for (const [name, f] of Object.entries(parts)) {
      const reps = 200, t = process.cpuUsage();
      for (let i = 0; i < reps; i++) await f(sides[side]);
      const u = process.cpuUsage(t), k = `${name}\0${side}`;
      if (round > 0) cpu.set(k, (cpu.get(k) ?? 0) + (u.user + u.system) / reps / 9);
    }
  }
}
for (const name of Object.keys(parts)) {
  const b = cpu.get(`${name}\0base`), n = cpu.get(`${name}\0branch`);
  console.log(`${name.padEnd(40)} base ${b.toFixed(1).padStart(6)} us  branch ${n.toFixed(1).padStart(6)} us  (${(n / b).toFixed(2)}x)`);
}
