// A header every unit includes, edited once, with a warm cache: what the rebuild costs with each tool.
//
//   node bench/header-edit.mjs [--project=lua5.4|generated-200] [--rounds=2] [--jobs=2] [--first]
//                              [--tools=plain,ccache,reprise,reprise-nocopies] [--fixtures=DIR]
//
// Edits (each round, each tool, in rotated order):
//   unused  another macro no unit uses, on the header's last line (an unused macro when built): the header's bytes change, every unit's
//           preprocessed text does not (ccache's preprocessor mode can serve it; Reprise's from an entry stored
//           under that text: a copy made while idle, the default ("reprise"; "reprise-nocopies" sets
//           REPRISE_PREPROCESSOR_FALLBACK_COPIES=0, "reprise-copies" =1), or an earlier miss of the same call that
//           preprocessed first)
//   used    a declaration on that line: every unit's text changes, so every tool compiles every unit again
// Before each timed step the header is restored, the tree cleaned and built with the same tool (warm:
// hits, untimed; with --first, cold: the tool's cache emptied first, so every round's edit is the first after a
// cold build, as in round 1 without it), then the header is edited and `make` runs, timed: wall time, and the CPU of the build
// tree plus the tool's daemon (work it leaves for idle time included, waited for). A warm-up round first
// builds every tool's cache cold. The rows are medians over the rounds; plain is the same edit built
// without a cache.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeneratedTree } from './generated-tree.mjs';
import { median } from './cold-rounds.mjs';
import { childCpuMs, markedCpuMs } from './proc-cpu.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const project = arg('project', 'lua5.4');
const rounds = Number(arg('rounds', 2));
const jobs = Number(arg('jobs', 2));
const first = args.includes('--first');
const wanted = arg('tools', 'plain,ccache,reprise,reprise-nocopies').split(',');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'reprise-header-edit-'));

function run(argv, env, cwd) {
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${String(r.stderr).slice(-2000)}`);
  return performance.now() - t0;
}
const shq = (s) => (/^[\w./=-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

let tree;
let header;
if (project === 'generated-200') {
  tree = path.join(work, 'tree');
  writeGeneratedTree(tree, 200);
  header = path.join(tree, 'include/gen/config.h');
} else {
  tree = path.join(work, 'tree');
  fs.cpSync(path.join(arg('fixtures', path.join(repo, '.fixtures')), project), tree, { recursive: true });
  header = path.join(tree, 'src/lua.h');
}
// The header as built ends with an unused macro's line, which each edit replaces: an unused macro of another
// name leaves every unit's preprocessed text exactly as it was (a blank line there would not: GCC's output
// marks a long run of blank and comment lines differently when a directive ends it).
const asShipped = fs.readFileSync(header);
const edited = (line) => Buffer.concat([asShipped, Buffer.from(`${line}\n`)]);
const original = edited('#define REPRISE_BENCH_UNUSED_0 0');
const make = (prefix) => (project === 'lua5.4'
  ? ['make', `-j${jobs}`, `CC=${[...prefix, 'gcc', '-std=gnu99'].map(shq).join(' ')}`, 'linux']
  : ['make', `-j${jobs}`, `CC=${[...prefix, 'gcc'].map(shq).join(' ')}`, `CXX=${[...prefix, 'g++'].map(shq).join(' ')}`]);
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(REPRISE_|CCACHE_|MAKEFLAGS|MFLAGS)/.test(k)));
baseEnv.LC_ALL = 'C';

const native = path.join(repo, 'packages/core/dist/native/reprise-native');
const cli = path.join(repo, 'packages/core/dist/bin/reprise.js');
const tools = [];
for (const name of wanted) {
  const dir = path.join(work, `tool-${name}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (name === 'plain') tools.push({ name, env: baseEnv, prefix: [] });
  else if (name === 'ccache') tools.push({ name, env: { ...baseEnv, CCACHE_DIR: path.join(dir, 'cache') }, prefix: ['ccache'] });
  else if (name.startsWith('reprise')) {
    const runtime = path.join(dir, 'rt');
    fs.mkdirSync(runtime, { mode: 0o700 });
    const env = { ...baseEnv, REPRISE_DIR: path.join(dir, 'cache'), REPRISE_RUNTIME_DIR: runtime, REPRISE_IDLE_TIMEOUT: '900' };
    if (name === 'reprise-copies') env.REPRISE_PREPROCESSOR_FALLBACK_COPIES = '1';
    else if (name === 'reprise-nocopies') env.REPRISE_PREPROCESSOR_FALLBACK_COPIES = '0';
    tools.push({ name, env, prefix: [native], marker: `REPRISE_RUNTIME_DIR=${runtime}`, reprise: true });
  } else throw new Error(`unknown tool ${name}`);
}
/** CPU of this bench's own `--show-stats` runs (~0.2 s each, a Node start-up): not the tool's, taken out of the timed CPU. */
let statsCpuMs = 0;
function stats(t) {
  if (!t.reprise) return undefined;
  const c0 = childCpuMs();
  const out = JSON.parse(repriseCli(t, '--show-stats', '--json').stdout).stats;
  statsCpuMs += childCpuMs() - c0;
  return out;
}
const repriseCli = (t, ...a) => spawnSync(process.execPath, [cli, ...a], { env: t.env, cwd: work, encoding: 'utf8' });
/** Waits until the tool's daemon has made the copies it leaves for idle time and stopped using CPU. */
function settle(t) {
  if (!t.marker) return;
  let last = markedCpuMs(t.marker);
  for (let i = 0; i < 600; i++) {
    spawnSync('sleep', ['0.5']);
    const now = markedCpuMs(t.marker);
    const quiet = now - last < 5 && i >= 5; // past the daemon's 2 s idle pause
    last = now;
    if (quiet && stats(t).fallbackCopiesWaiting === 0) return;
  }
}
function timedBuild(t) {
  const c0 = childCpuMs() + markedCpuMs(t.marker) - statsCpuMs;
  const ms = run(make(t.prefix), t.env, tree);
  settle(t);
  return { ms, cpuMs: childCpuMs() + markedCpuMs(t.marker) - statsCpuMs - c0 };
}

let token = 0;
const EDITS = {
  unused: () => edited(`#define REPRISE_BENCH_UNUSED_${++token} ${token}`),
  used: () => edited(`extern int reprise_bench_used_${++token};`),
};

// Warm-up: every tool's cache filled by a cold build of the original tree.
fs.writeFileSync(header, original);
for (const t of tools) {
  run(['make', 'clean'], baseEnv, tree);
  timedBuild(t);
  console.error(`warm-up ${t.name} built`);
}
const samples = {};
for (let r = 0; r < rounds; r++) {
  for (const [edit, text] of Object.entries(EDITS)) {
    const order = tools.map((_, i) => tools[(i + r) % tools.length]);
    for (const t of order) {
      fs.writeFileSync(header, original);
      run(['make', 'clean'], baseEnv, tree);
      if (first && t.reprise) repriseCli(t, '--clear');
      else if (first && t.name === 'ccache') run(['ccache', '-C'], t.env, tree);
      run(make(t.prefix), t.env, tree); // warm (a hit for each unit; cold with --first), untimed
      settle(t);
      const before = stats(t);
      // A new mtime a second after the build, as an editor's save: make sees the header newer than every object.
      spawnSync('sleep', ['1.1']);
      fs.writeFileSync(header, text());
      const s = timedBuild(t);
      const after = stats(t);
      if (after) s.counts = { misses: after.misses - before.misses, hits: after.hitsDirect + after.hitsPreprocessor - before.hitsDirect - before.hitsPreprocessor };
      (samples[`${edit}:${t.name}`] ??= []).push(s);
      console.error(`round ${r + 1} ${edit.padEnd(6)} ${t.name.padEnd(14)} ${(s.ms / 1000).toFixed(2)} s, cpu ${(s.cpuMs / 1000).toFixed(2)} s${s.counts ? ` (${s.counts.hits} hits, ${s.counts.misses} misses)` : ''} (load ${os.loadavg()[0].toFixed(1)})`);
    }
  }
}
fs.writeFileSync(header, original);
for (const t of tools) if (t.reprise) repriseCli(t, '--stop-server');

console.log(`${project}: one edit of ${path.relative(tree, header)} with a warm cache${first ? ' (each the first after a cold build)' : ''}, make -j${jobs}, ${rounds} round(s) after a warm-up; medians; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('| edit | tool | wall | wall / plain | CPU (build + daemon) | CPU / plain | Reprise: hits / misses per rebuild |');
console.log('|---|---|---:|---:|---:|---:|---|');
for (const edit of Object.keys(EDITS)) {
  const plain = samples[`${edit}:plain`];
  for (const t of tools) {
    const xs = samples[`${edit}:${t.name}`] ?? [];
    const ms = median(xs.map((s) => s.ms));
    const cpu = median(xs.map((s) => s.cpuMs));
    const ratio = (a, b) => (plain ? (a / b).toFixed(3) : '–');
    console.log(`| ${edit} | ${t.name} | ${(ms / 1000).toFixed(2)} s | ${plain ? ratio(ms, median(plain.map((s) => s.ms))) : '–'} | ${(cpu / 1000).toFixed(2)} s | ${plain ? ratio(cpu, median(plain.map((s) => s.cpuMs))) : '–'} | ${xs[0]?.counts ? xs.map((s) => `${s.counts.hits}/${s.counts.misses}`).join(', ') : ''} |`);
  }
}
fs.rmSync(work, { recursive: true, force: true });
