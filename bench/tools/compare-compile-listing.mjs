// Checks the lists a -MMD compile gives of what it read (plugin-gcc's
// compile-listing.ts) against the compiler's own -M scan, source by source,
// and that the compile that lists is byte-identical to a plain one (object,
// the -MMD file, stderr). Used to check real projects (docs/sharing.md).
//
//   CCS="gcc clang" node bench/tools/compare-compile-listing.mjs <cwd> '<flags as JSON>' <source>...
//   e.g. (in libuv) ... "$PWD" '["-Iinclude","-Isrc","-D_GNU_SOURCE"]' src/*.c src/unix/core.c
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { parseDepFile } = await import(join(repo, 'packages/core/dist/index.js'));
const { listFromReadTrace, listFromDependencyDot, readTraceLibrary } = await import(join(repo, 'packages/plugin-gcc/dist/index.js'));
const [cwd, flagsJson, ...sources] = process.argv.slice(2);
const flags = JSON.parse(flagsJson ?? '[]');
const library = readTraceLibrary();
if (!library) throw new Error('the read tracer is not built (npm run build)');
const tmp = mkdtempSync(join(tmpdir(), 'reprise-listing-'));
const at = (name) => join(tmp, name);
const counts = { compiles: 0, sameSet: 0, supersetOnly: 0, missingOrNoList: 0, bytesDiffer: 0 };
for (const src of sources) for (const cc of (process.env.CCS ?? 'gcc clang').split(' ')) {
  counts.compiles++;
  const gccLike = !/clang/.test(cc);
  const run = (args, env = {}) => spawnSync(args[0], args.slice(1), { cwd, env: { ...process.env, LC_ALL: 'C', ...env } });
  const base = [cc, ...flags, '-g', '-O2', '-c', src, '-MMD', '-MP', '-MT', 'obj.o'];
  const scan = run([cc, ...flags, '-O2', '-M', '-MF', at('full.d'), src]);
  if (scan.status !== 0) { console.log('skipped (the scan failed)', cc, src); continue; }
  const full = new Set(parseDepFile(readFileSync(at('full.d'), 'utf8'), cwd));
  const ref = run([...base, '-o', at('plain.o'), '-MF', at('plain.d')]);
  rmSync(at('list'), { force: true });
  const listed = gccLike
    ? run([...base, '-o', at('listed.o'), '-MF', at('listed.d')], { LD_PRELOAD: library, REPRISE_READ_TRACE: at('list') })
    : run([...base, '-o', at('listed.o'), '-MF', at('listed.d'), '-Xclang', '-dependency-dot', '-Xclang', at('list')]);
  const same = (a, b) => readFileSync(at(a)).equals(readFileSync(at(b)));
  if (!same('plain.o', 'listed.o') || !same('plain.d', 'listed.d') || !ref.stderr.equals(listed.stderr)) { counts.bytesDiffer++; console.log('BYTES DIFFER', cc, src); }
  const input = { invocation: { sourceFile: resolve(cwd, src), dependencies: { depFile: at('listed.d') } }, cwd, listed: readFileSync(at('list'), 'utf8'), depText: readFileSync(at('listed.d'), 'utf8') };
  const list = (gccLike ? listFromReadTrace : listFromDependencyDot)(input);
  if (!list) { counts.missingOrNoList++; console.log('NO LIST', cc, src); continue; }
  const got = new Set(list);
  const lacking = [...full].filter((f) => !got.has(f));
  const more = [...got].filter((f) => !full.has(f));
  if (lacking.length) { counts.missingOrNoList++; console.log('MISSING', cc, src, lacking.slice(0, 5)); }
  else if (more.length) { counts.supersetOnly++; console.log('EXTRA', cc, src, more.slice(0, 5)); }
  else counts.sameSet++;
}
rmSync(tmp, { recursive: true, force: true });
console.log(JSON.stringify(counts));
