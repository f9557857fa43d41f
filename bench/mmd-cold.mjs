// The cold build of a -MMD -g project (bench/generated-tree.mjs: make with
// -O2 -g -MMD -MP), in CPU time (the build's process tree + the cache's
// daemon, its launcher and the compilers it ran) against a plain build, in
// one run: plain, ccache, Reprise as it is, and Reprise made to run the
// second `-M` scan per miss (what it did before its compiles listed what they
// read). Each round builds with every tool in turn (order rotated); a tool's
// cache is emptied before each of its builds, its daemon stays up.
//
//   node bench/mmd-cold.mjs [--units=48] [--rounds=4] [--jobs=2] [--work=DIR]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeneratedTree } from './generated-tree.mjs';
import { median, rotatedRounds, roundRatios } from './cold-rounds.mjs';

const arg = (name, dflt) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt;
const units = Number(arg('units', 48));
const rounds = Number(arg('rounds', 4));
const jobs = Number(arg('jobs', 2));
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.resolve(arg('work', fs.mkdtempSync(path.join(os.tmpdir(), 'reprise-mmd-cold-'))));
const reprise = path.join(repo, 'packages/core/dist/bin/reprise.js');
const native = path.join(repo, 'packages/core/dist/native/reprise-native');
const client = fs.existsSync(native) ? [native] : [process.execPath, reprise];

const TICK_MS = 1000 / 100;
function procTimes(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (+f[11] + +f[12] + +f[13] + +f[14]) * TICK_MS;
  } catch { return 0; }
}
function childCpuMs() {
  const st = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (+f[13] + +f[14]) * TICK_MS;
}
/** CPU so far of the live processes whose environment holds `marker` (a daemon and its launcher). */
function markedCpuMs(marker) {
  let ms = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker)) ms += procTimes(pid);
    } catch { /* gone */ }
  }
  return ms;
}
function run(argv, env, cwd) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${String(r.stderr).slice(-2000)}`);
  return r;
}
const shq = (s) => (/^[\w./=-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

const tree = writeGeneratedTree(path.join(work, 'tree'), units) ?? path.join(work, 'tree');
const baseEnv = { ...process.env, LC_ALL: 'C' };
delete baseEnv.REPRISE_READ_TRACE;
const runtime = path.join(work, 'reprise-run');
const repriseEnv = { ...baseEnv, REPRISE_DIR: path.join(work, 'reprise-cache'), REPRISE_RUNTIME_DIR: runtime, REPRISE_IDLE_TIMEOUT: '600' };
const marker = `REPRISE_RUNTIME_DIR=${runtime}`;
const tools = [
  { name: 'plain', prefix: [], env: baseEnv },
  { name: 'ccache', prefix: ['ccache'], env: { ...baseEnv, CCACHE_DIR: path.join(work, 'ccache') }, reset: (t) => run(['ccache', '-C'], t.env, work) },
  { name: 'reprise', prefix: client, env: repriseEnv, daemon: true },
  // The plugin leaves a trace the caller set up to the caller: every -MMD miss then runs the -M scan, as before.
  { name: 'reprise-scan', prefix: client, env: { ...repriseEnv, REPRISE_READ_TRACE: path.join(work, 'callers-trace') }, daemon: true },
];
for (const t of tools) {
  if (t.name === 'reprise' || t.name === 'reprise-scan') t.reset = (tt) => run([process.execPath, reprise, '-C'], tt.env, work);
}
const make = (t) => ['make', `-j${jobs}`, `CC=${[...t.prefix, 'gcc'].map(shq).join(' ')}`, `CXX=${[...t.prefix, 'g++'].map(shq).join(' ')}`];

function build(t) {
  run(['make', 'clean'], t.env, tree);
  t.reset?.(t);
  if (t.daemon) run([process.execPath, reprise, '--zero-stats'], t.env, work);
  const c0 = childCpuMs();
  const d0 = t.daemon ? markedCpuMs(marker) : 0;
  const start = performance.now();
  run(make(t), t.env, tree);
  const ms = performance.now() - start;
  let stats;
  if (t.daemon) {
    // Stores run after each answer: wait (bounded) for the last ones before reading the daemon's CPU.
    for (let i = 0; i < 100; i++) {
      stats = JSON.parse(String(spawnSync(process.execPath, [reprise, '--show-stats', '--json'], { env: t.env, cwd: work }).stdout)).stats;
      if (stats.dependencyLists.fromCompile + stats.dependencyLists.scans >= stats.misses) break;
      spawnSync('sleep', ['0.1']);
    }
  }
  const cpu = childCpuMs() - c0 + (t.daemon ? markedCpuMs(marker) - d0 : 0);
  if (stats && (stats.misses !== units || stats.hitsDirect + stats.hitsPreprocessor !== 0)) throw new Error(`${t.name}: not a cold build (${JSON.stringify(stats)})`);
  return { ms, cpu, lists: stats?.dependencyLists };
}

// Warm-up: the daemon starts and detects the compilers; the tree's ctimes age; the page cache holds the headers.
for (const t of tools) build(t);
const { samples, errors } = await rotatedRounds(tools, rounds, (t) => build(t), (t, r, s) => {
  console.error(`round ${r + 1} ${t.name.padEnd(12)} cpu ${(s.cpu / 1000).toFixed(2)} s  wall ${(s.ms / 1000).toFixed(2)} s${s.lists ? `  lists from compile ${s.lists.fromCompile}, scans ${s.lists.scans}` : ''}`);
});
spawnSync(process.execPath, [reprise, '--stop-server'], { env: repriseEnv, cwd: work });
console.log(`cold -MMD -g build of ${units} generated units, make -j${jobs}, ${rounds} rounds (median; ratio to plain taken round by round)`);
console.log('| tool | CPU | CPU / plain | wall | wall / plain |');
console.log('|---|---:|---:|---:|---:|');
for (const t of tools) {
  const xs = samples[t.name];
  if (errors[t.name] || !xs.length) { console.log(`| ${t.name} | error: ${errors[t.name]} | | | |`); continue; }
  const cpuRatio = roundRatios(xs, samples.plain, (s) => s.cpu)?.median;
  const wallRatio = roundRatios(xs, samples.plain, (s) => s.ms)?.median;
  console.log(`| ${t.name} | ${(median(xs.map((s) => s.cpu)) / 1000).toFixed(2)} s | ${cpuRatio?.toFixed(3)} | ${(median(xs.map((s) => s.ms)) / 1000).toFixed(2)} s | ${wallRatio?.toFixed(3)} |`);
}
fs.rmSync(work, { recursive: true, force: true });
