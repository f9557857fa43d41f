#!/usr/bin/env node
// The farm client's own CPU per job, this checkout against another one (a branch point), pair by pair.
// Each checkout gets its own loopback farm (its scheduler and one bwrap builder: the protocol may differ) and its own
// client daemon. Per round and file, each checkout compiles the same bytes once as an ordinary local miss and once
// on the farm (the builder already holding the toolchain and inputs), in alternating order; the daemon's CPU for a
// call (/proc schedstat, from before the call until the daemon is idle again, its store included) is taken for
// both. The client's work for the farm is farm − local of the same round: what the farm adds to a miss beyond the
// compile. Not part of `npm run bench`; cited in docs/dist-design.md and bench/results.
//
//   node bench/farm-client-vs.mjs --vs=/path/to/other/checkout [--runs=N] [--work=DIR] [--daemon-preload=FILE] [--edit]
//
// --edit: each mode compiles in one directory, the source edited every round (a function appended), as a rebuild
// after an edit does: the farm job's source was sent before, so its last job's files may be sent without a scan.
//
// The other checkout must be built (npm run build). Prints per file and checkout the medians, the median of the
// per-round differences (this − other), and the builder round trips per farm job (from --show-stats).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { client, daemonIdleCpuMs, median, run, startFarm } from './farm.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k, v ?? true]; }));
if (typeof args.vs !== 'string') throw new Error('--vs=/path/to/other/checkout is required');
const OTHER = path.resolve(args.vs);
const runs = Number(args.runs ?? 9);
const work = path.resolve(args.work ?? path.join(REPO, '.bench-work', 'farm-client-vs'));
const SMALL = path.join(REPO, 'test-fixtures', 'bench', 'small.cpp');
const log = (...a) => process.stderr.write(`[farm-client-vs] ${a.join(' ')}\n`);

const large = ['int work(int x) {', ...Array.from({ length: 1500 }, (_, i) => `  x = x * ${(i % 7) + 3} + (x >> ${(i % 5) + 1}) ^ ${i};`), '  return x;\n}\n'].join('\n');
const allFiles = [
  { name: 'small.cpp', text: fs.readFileSync(SMALL, 'utf8'), argv: ['g++', '-std=c++17', '-O2', '-g'] },
  { name: 'large.c', text: large, argv: ['gcc', '-O2', '-g'] },
  // Only with --only=big.cpp: small.cpp with -g3, an object over 1 MiB (the store copies such an output with the kernel).
  { name: 'big.cpp', text: fs.readFileSync(SMALL, 'utf8'), argv: ['g++', '-std=c++17', '-O2', '-g3'], optIn: true },
];
// --only=large.c: one file only.
const files = typeof args.only === 'string' ? allFiles.filter((f) => f.name === args.only) : allFiles.filter((f) => !f.optIn);
const edit = args.edit === true;

fs.rmSync(work, { recursive: true, force: true });
const sides = [
  { label: 'this', repo: REPO },
  { label: 'other', repo: OTHER },
];
try {
  for (const side of sides) {
    const dir = path.join(work, side.label);
    side.farm = await startFarm(path.join(dir, 'farm'), 1, { repo: side.repo });
    side.env = { REPRISE_DIR: path.join(dir, 'cache'), REPRISE_RUNTIME_DIR: path.join(dir, 'run'), REPRISE_IDLE_TIMEOUT: '600', LC_ALL: 'C' };
    // --daemon-preload=FILE: preloaded into this checkout's daemon (e.g. a profiler), as in bench/farm.mjs.
    if (side.label === 'this' && typeof args['daemon-preload'] === 'string') side.env.NODE_OPTIONS = `--require ${path.resolve(args['daemon-preload'])}`;
    side.farmEnv = { ...side.env, REPRISE_DIST_SCHEDULER_URL: side.farm.url, REPRISE_DIST_TOKEN: side.farm.clientToken, REPRISE_DIST_MODE: 'always' };
    side.dir = dir;
  }
  const rows = [];
  for (const f of files) {
    const per = Object.fromEntries(sides.map((s) => [s.label, { farm: [], local: [], extra: [], scans: [] }]));
    for (let i = -1; i < runs; i++) {
      const order = i % 2 ? sides : [...sides].reverse();
      for (const side of order) {
        const cpu = {};
        for (const mode of ['local', 'farm']) {
          const d = path.join(side.dir, f.name, mode, edit ? 'edited' : String(i + 1));
          fs.mkdirSync(d, { recursive: true });
          fs.writeFileSync(path.join(d, f.name), edit ? `${f.text}\nint edited_round_${i + 1}(void) { return ${i + 1}; }\n` : f.text);
          const before = await daemonIdleCpuMs(side.env.REPRISE_RUNTIME_DIR);
          const r = run([...client(side.repo), ...f.argv, '-c', f.name, '-o', 'out.o'], { env: mode === 'farm' ? side.farmEnv : side.env, cwd: d });
          if (r.error) throw new Error(`${side.label} ${mode} ${f.name}: ${r.error}`);
          const after = await daemonIdleCpuMs(side.env.REPRISE_RUNTIME_DIR);
          if (before && after) cpu[mode] = after.daemon - before.daemon;
          // The launcher's CPU with its children during a farm job: the closure scans the client runs (10 ms ticks).
          if (before && after && mode === 'farm') cpu.scans = after.helper - before.helper;
        }
        if (i < 0) run([...client(side.repo), '--zero-stats'], { env: side.env, cwd: side.dir });
        if (i < 0 || cpu.farm === undefined || cpu.local === undefined) continue; // warm-up: packages the toolchain, fills the builder
        per[side.label].farm.push(cpu.farm);
        per[side.label].local.push(cpu.local);
        per[side.label].extra.push(cpu.farm - cpu.local);
        if (cpu.scans !== undefined) per[side.label].scans.push(cpu.scans);
      }
    }
    const row = { file: f.name, runs };
    for (const side of sides) {
      const p = per[side.label];
      const s = JSON.parse(run([...client(side.repo), '--show-stats', '--json'], { env: side.env, cwd: side.dir }).stdout).stats;
      const scansMean = p.scans.length ? p.scans.reduce((a, b) => a + b, 0) / p.scans.length : null;
      row[side.label] = { farmMs: median(p.farm), localMs: median(p.local), extraMs: median(p.extra), scansMeanMs: scansMean, remote: s.remote?.farm ?? null, fallbacks: s.fallbacks, speculation: s.speculation ?? null };
    }
    row.extraDiffMs = median(per.this.extra.map((x, i) => x - per.other.extra[i]));
    row.farmDiffMs = median(per.this.farm.map((x, i) => x - per.other.farm[i]));
    rows.push(row);
    const fmt = (x) => (x === null || x === undefined ? '?' : x.toFixed(2));
    for (const side of sides) log(`${f.name} ${side.label}: daemon CPU per farm job ${fmt(row[side.label].farmMs)} ms, per local miss ${fmt(row[side.label].localMs)} ms, farm − local ${fmt(row[side.label].extraMs)} ms (medians); scans' CPU per farm job ${fmt(row[side.label].scansMeanMs)} ms (mean, 10 ms ticks)`);
    log(`${f.name}: per round, this − other: farm job ${fmt(row.farmDiffMs)} ms, farm − local ${fmt(row.extraDiffMs)} ms (medians)`);
  }
  for (const side of sides) {
    const s = JSON.parse(run([...client(side.repo), '--show-stats', '--json'], { env: side.env, cwd: side.dir }).stdout).stats;
    const farm = s.remote?.farm;
    if (farm) log(`${side.label}: ${farm.compiles} farm jobs, ${(farm.roundTrips / farm.compiles).toFixed(2)} builder round trips per job after the warm-up`);
  }
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
} finally {
  for (const side of sides) {
    if (side.env) run([...client(side.repo), '--stop-server'], { env: side.env, cwd: side.dir });
    await side.farm?.stop();
  }
}
