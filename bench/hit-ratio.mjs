#!/usr/bin/env node
// Single-hit cost against ccache's, through what users type: the native client
// (`reprise-native g++ ...`), a compiler link to it (`/path/links/g++ ...`, as
// link-compilers or CMake's launcher gives), the package's sh launcher
// (node_modules/.bin/reprise), and the native client with hits answered by the
// daemon only (REPRISE_NO_CLIENT_HITS=1: the path before the hit index).
//
//   node bench/hit-ratio.mjs [--quick] [--calls=N] [--work=DIR] [--json=PATH] [--no-load]
//
// Each row is one client against `ccache g++` on the same file
// (test-fixtures/bench/small.cpp, g++ -std=c++17 -O2 -c), timed by a small C
// driver (bench/tools/alternate.c: posix_spawn + wait, CLOCK_MONOTONIC):
//   alternating  A B B A A B ...: the ratio of each pair, median
//   blocks       N of A, then N of B: median over median
//   gaps         alternating with 20 ms between calls (a build's gaps)
// on the machine as it is ("idle": whatever else runs; the load average is
// printed) and with two busy loops added ("loaded"). Every timed call must be
// a hit: each tool's stats are read after the run and a row says so if not.
//
// As a module: `import { hitRatioBench, hitRatioMarkdown } from './hit-ratio.mjs'`.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NATIVE = path.join(REPO, 'packages/core/dist/native/reprise-native');
const LAUNCHER = path.join(REPO, 'packages/core/bin/reprise');
const NODE_CLIENT = path.join(REPO, 'packages/core/dist/bin/reprise.js');
const SOURCE = path.join(REPO, 'test-fixtures/bench/small.cpp');
/** The daemon indexes no hit on a file changed this recently (src/hit-index/watch-list.ts). */
const RACY_WAIT_MS = 2500;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};

function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(CCACHE_|SCCACHE_|REPRISE_)|^MAKEFLAGS$/.test(k)) env[k] = v;
  return { ...env, LC_ALL: 'C', ...extra };
}

function buildDriver(work) {
  const out = path.join(work, 'alternate');
  const r = spawnSync(process.env.CC || 'cc', ['-O2', '-o', out, path.join(REPO, 'bench/tools/alternate.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build bench/tools/alternate.c: ${r.stderr || r.error}`);
  return out;
}

function drive(driver, mode, n, gapMs, a, b, env) {
  const r = spawnSync(driver, [mode, String(n), String(gapMs), '--', ...a, '--', ...b], { env, encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`driver failed: ${r.stderr}`);
  const A = [], B = [];
  let failed = 0;
  for (const line of r.stdout.split('\n')) {
    const [who, us, rc] = line.split(' ');
    if (!who) continue;
    if (rc !== '0') failed++;
    (who === 'A' ? A : B).push(Number(us) / 1000);
  }
  return { A, B, failed };
}

function summarize(mode, { A, B, failed }) {
  const ratio = mode === 'blocks' ? median(A) / median(B) : median(A.map((a, i) => a / B[i]));
  return { medianMs: median(A), ccacheMedianMs: median(B), ratio, failed };
}

function startLoad(n) {
  const kids = [];
  for (let i = 0; i < n; i++) kids.push(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  return () => kids.forEach((k) => k.kill('SIGKILL'));
}

function reprise(args, env) {
  return spawnSync(process.execPath, [NODE_CLIENT, ...args], { env, encoding: 'utf8' });
}

export async function hitRatioBench(options = {}) {
  const calls = options.calls ?? (options.quick ? 20 : 60);
  const log = options.log ?? ((...a) => console.error('[hit-ratio]', ...a));
  const work = options.work ?? path.join(REPO, '.bench-work', 'hit-ratio');
  if (!fs.existsSync(NATIVE)) return { rows: [], notes: [`native client not built (${NATIVE}): run npm run build`] };
  if (spawnSync('ccache', ['--version']).status !== 0) return { rows: [], notes: ['ccache not installed: apt-get install ccache'] };
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'links'), { recursive: true });
  fs.mkdirSync(path.join(work, 'run'), { recursive: true, mode: 0o700 });
  const driver = buildDriver(work);
  fs.copyFileSync(SOURCE, path.join(work, 'small.cpp'));
  fs.symlinkSync(NATIVE, path.join(work, 'links', 'g++'));
  const env = cleanEnv({ REPRISE_DIR: path.join(work, 'cache'), REPRISE_RUNTIME_DIR: path.join(work, 'run'), CCACHE_DIR: path.join(work, 'ccache') });
  const args = (o) => ['-std=c++17', '-O2', '-c', path.join(work, 'small.cpp'), '-o', path.join(work, o)];
  const ccache = ['ccache', 'g++', ...args('ccache.o')];
  const clients = [
    { name: 'native client (reprise-native g++)', argv: [NATIVE, 'g++', ...args('native.o')] },
    { name: 'compiler link (links/g++ -> reprise-native)', argv: [path.join(work, 'links', 'g++'), ...args('link.o')] },
    { name: 'sh launcher (node_modules/.bin/reprise g++)', argv: [LAUNCHER, 'g++', ...args('launcher.o')] },
    { name: 'native client, daemon answers (REPRISE_NO_CLIENT_HITS=1)', argv: [NATIVE, 'g++', ...args('daemon.o')], env: { REPRISE_NO_CLIENT_HITS: '1' } },
  ];
  // Files must be older than the racy window before the daemon indexes a hit on them.
  await new Promise((r) => setTimeout(r, RACY_WAIT_MS));
  for (const c of [{ argv: ccache }, ...clients]) for (let i = 0; i < 3; i++) spawnSync(c.argv[0], c.argv.slice(1), { env: { ...env, ...c.env }, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  spawnSync('ccache', ['-z'], { env, stdio: 'ignore' });
  reprise(['--zero-stats'], env);

  const rows = [];
  for (const load of options.noLoad ? ['idle'] : ['idle', 'loaded']) {
    const stop = load === 'loaded' ? startLoad(2) : () => {};
    try {
      await new Promise((r) => setTimeout(r, load === 'loaded' ? 500 : 0));
      for (const c of clients) {
        const cEnv = { ...env, ...c.env };
        const loadBefore = os.loadavg()[0];
        const alternating = summarize('alternate', drive(driver, 'alternate', calls, 0, c.argv, ccache, cEnv));
        const blocks = summarize('blocks', drive(driver, 'blocks', calls, 0, c.argv, ccache, cEnv));
        const gaps = summarize('alternate', drive(driver, 'alternate', Math.max(10, calls / 2), 20, c.argv, ccache, cEnv));
        const row = { load, client: c.name, loadavg: [loadBefore, os.loadavg()[0]], alternating, blocks, gaps };
        log(`${load}: ${c.name}: alternating ${alternating.ratio.toFixed(2)}x, blocks ${blocks.ratio.toFixed(2)}x, 20 ms gaps ${gaps.ratio.toFixed(2)}x`);
        rows.push(row);
      }
    } finally {
      stop();
    }
  }
  const stats = JSON.parse(reprise(['--show-stats', '--json'], env).stdout || '{}').stats ?? {};
  const ccacheStats = spawnSync('ccache', ['--print-stats'], { env, encoding: 'utf8' }).stdout ?? '';
  const ccacheMisses = Number(/^(?:cache_miss|miss)\s+(\d+)/m.exec(ccacheStats)?.[1] ?? 0);
  reprise(['--stop-server'], env);
  const notes = [
    `reprise during the timed calls: ${stats.hitsDirect ?? '?'} direct hits (${stats.hitsByClient ?? '?'} answered by the native client), ${stats.misses ?? '?'} misses; ccache misses: ${ccacheMisses}`,
    `load average (1 min) at the start of each row is printed with it; ${os.cpus().length} CPUs`,
  ];
  if (stats.misses) notes.push('WARNING: Reprise missed during timed calls: the rows are not hit-only');
  return { rows, notes, calls };
}

export function hitRatioMarkdown(r) {
  const L = ['### A hit against a ccache hit (ratio < 1: Reprise is faster)', ''];
  L.push('| load | client | alternating | blocks | 20 ms gaps | Reprise ms (alt.) | ccache ms (alt.) | load avg |', '|---|---|---|---|---|---|---|---|');
  for (const x of r.rows) {
    const f = (v) => (v == null ? '–' : `${v.toFixed(2)}×`);
    L.push(`| ${x.load} | ${x.client} | ${f(x.alternating.ratio)} | ${f(x.blocks.ratio)} | ${f(x.gaps.ratio)} | ${x.alternating.medianMs.toFixed(2)} | ${x.alternating.ccacheMedianMs.toFixed(2)} | ${x.loadavg.map((v) => v.toFixed(1)).join('→')} |`);
  }
  L.push('');
  for (const n of r.notes ?? []) L.push(`- ${n}`);
  return L.join('\n') + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const opt = { quick: process.argv.includes('--quick'), noLoad: process.argv.includes('--no-load') };
  for (const a of process.argv.slice(2)) {
    const [k, v] = a.split('=');
    if (k === '--calls') opt.calls = Number(v);
    if (k === '--work') opt.work = path.resolve(v);
    if (k === '--json') opt.json = path.resolve(v);
  }
  const r = await hitRatioBench(opt);
  process.stdout.write(hitRatioMarkdown(r));
  if (opt.json) fs.writeFileSync(opt.json, JSON.stringify(r, null, 2) + '\n');
}
