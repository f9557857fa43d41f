#!/usr/bin/env node
// The builders' own CPU per farm job on yaml-cpp (~31 units, each carrying a predicted include closure of ~330 files),
// this checkout against another one (a branch point), rounds alternated.
//
//   node bench/builder-yaml-cpu.mjs [--vs=/path/to/other/checkout] [--rounds=N] [--jobs=N] [--work=DIR] [--fixtures=DIR]
//                                   [--builder-preload=FILE] [--perf=FILE]
//
// Per round and checkout: a fresh loopback farm (its scheduler and two bwrap builders, unpinned), a fresh daemon
// (kept cache folder, --clear'ed), a warm-up on a small generated tree until both builders hold the C and C++
// toolchains, then a clean yaml-cpp build (-j --jobs, 8) with every miss sent to the farm. Measured over the build:
// the builders' Node processes (every thread, /proc schedstat) and, as root with cgroup v1, each builder with the
// jobs it starts (a cpuacct cgroup). Prints per round both per remote job and the load average.
// --builder-preload=FILE reaches this checkout's builders as NODE_OPTIONS=--require FILE; they get SIGUSR2 before and after
// the build (bench/results/2026-12-07-builder-tree-preload.cjs: a CPU profile of the build). --perf=FILE: `perf record
// -e cpu-clock -g` on this checkout's builders (not their jobs) over the build, FILE.<round>, with --perf-basic-prof.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { client, cpuGroup, median, processCpuMs, run, startFarm } from './farm.mjs';
import { writeGeneratedTree } from './generated-tree.mjs';
import { yamlCppBuild, yamlCppClean, yamlCppConfigure } from './yaml-cpp-project.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => { const i = a.indexOf('='); return i < 0 ? [a.replace(/^--/, ''), true] : [a.slice(2, i), a.slice(i + 1)]; }));
const rounds = Number(args.rounds ?? 3);
const jobs = Number(args.jobs ?? 8);
const work = path.resolve(args.work ?? path.join(REPO, '.bench-work', 'builder-yaml-cpu'));
const fixtures = path.resolve(args.fixtures ?? path.join(REPO, '.fixtures'));
const src = path.join(fixtures, 'yaml-cpp');
if (!fs.existsSync(path.join(src, '.reprise-fixture'))) throw new Error(`${src} is missing: run scripts/fetch-fixture-sources.sh ${fixtures}`);
const log = (...a) => process.stderr.write(`[builder-yaml-cpu] ${a.join(' ')}\n`);
const load = () => os.loadavg()[0].toFixed(1);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** CPU ms of each thread of `pid` by thread name (node's main thread, libuv's pool, V8's workers). */
function threadCpuMs(pid) {
  const out = {};
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/[0-9]+$/, '').trim() || '?';
      const ms = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
      out[Number(tid) === pid ? 'main' : name] = (out[Number(tid) === pid ? 'main' : name] ?? 0) + ms;
    } catch { /* thread gone */ }
  }
  return out;
}
const addThreads = (list) => list.reduce((acc, t) => { for (const [k, v] of Object.entries(t)) acc[k] = (acc[k] ?? 0) + v; return acc; }, {});

const sides = [{ label: 'this', repo: REPO }, ...(typeof args.vs === 'string' ? [{ label: 'other', repo: path.resolve(args.vs) }] : [])];
fs.rmSync(work, { recursive: true, force: true });
for (const side of sides) {
  side.dir = path.join(work, side.label);
  side.build = path.join(side.dir, 'build');
  fs.mkdirSync(side.dir, { recursive: true });
  const r = run(yamlCppConfigure(src, side.build, client(side.repo)), { cwd: side.dir });
  if (r.error) throw new Error(`cmake configure: ${r.error}`);
  side.node = []; side.all = [];
}

const started = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 ? sides : [...sides].reverse();
    for (const side of order) {
      const builderEnv = side.label === 'this' && typeof args['builder-preload'] === 'string' ? { NODE_OPTIONS: `--require ${path.resolve(args['builder-preload'])}`, PROF_OUT: path.join(work, `builder-r${round}`) } : {};
      const perfOut = side.label === 'this' && typeof args.perf === 'string' ? path.resolve(`${args.perf}.${round}`) : undefined;
      if (perfOut) builderEnv.NODE_OPTIONS = '--perf-basic-prof';
      const farm = await startFarm(path.join(side.dir, `farm${round}`), 2, { repo: side.repo, builderEnv });
      started.push(farm);
      const groups = farm.builders.map((b, i) => cpuGroup(`reprise-builder-yaml-${process.pid}-${round}-${side.label}-${i}`, b.pid));
      const env = { REPRISE_DIR: path.join(side.dir, 'cache'), REPRISE_IDLE_TIMEOUT: '600', LC_ALL: 'C', REPRISE_RUNTIME_DIR: path.join(side.dir, `run${round}`), REPRISE_DIST_SCHEDULER_URL: farm.url, REPRISE_DIST_TOKEN: farm.clientToken, REPRISE_DIST_MODE: 'always' };
      try {
        run([...client(side.repo), '--clear'], { env, cwd: side.dir });
        // The compilers cmake chose (their toolchains are packaged and sent in the warm-up, not in the measured build).
        const cache = fs.readFileSync(path.join(side.build, 'CMakeCache.txt'), 'utf8');
        const compiler = (lang) => new RegExp(`^CMAKE_${lang}_COMPILER:[A-Z]+=(.+)$`, 'm').exec(cache)?.[1] ?? (lang === 'C' ? 'cc' : 'c++');
        const cc = client(side.repo).join(' ');
        for (let w = 1; w <= 6; w++) {
          const warm = path.join(side.dir, `warm${round}-${w}`);
          writeGeneratedTree(warm, 16);
          run(['make', '-j8', `CC=${cc} ${compiler('C')}`, `CXX=${cc} ${compiler('CXX')}`], { cwd: warm, env });
          await new Promise((r) => setTimeout(r, 1500));
          const held = JSON.parse(run([...client(side.repo), '--dist-status', '--json'], { env, cwd: side.dir }).stdout || '{}');
          const pools = held.scheduler?.pools ?? held.farm?.scheduler?.pools ?? held.pools ?? [];
          const counts = pools.flatMap((p) => p.builders).map((b) => b.toolchains?.length ?? 0);
          if (counts.length === 2 && counts.every((n) => n >= 2)) break;
        }
        run(yamlCppClean(side.build), { cwd: side.dir });
        run([...client(side.repo), '--zero-stats'], { env, cwd: side.dir });
        const l0 = load();
        const nodeBefore = sum(farm.builders.map((b) => processCpuMs(b.pid)));
        const threadsBefore = addThreads(farm.builders.map((b) => threadCpuMs(b.pid)));
        const allBefore = groups.every(Boolean) ? sum(groups.map((g) => g.ms())) : null;
        const profile = () => { if (builderEnv.PROF_OUT) for (const b of farm.builders) b.kill('SIGUSR2'); };
        profile();
        const perf = perfOut ? spawn('perf', ['record', '-e', 'cpu-clock', '-F', '999', '-g', '-o', perfOut, '-p', farm.builders.map((b) => b.pid).join(',')], { stdio: 'ignore' }) : null;
        const b = run(yamlCppBuild(side.build, jobs), { cwd: side.dir, env });
        if (b.error) throw new Error(`${side.label} build: ${b.error}`);
        await new Promise((r) => setTimeout(r, 500)); // the builders' last answers and scratch removal
        profile();
        if (perf) await new Promise((r) => { perf.once('exit', r); perf.kill('SIGINT'); });
        const node = sum(farm.builders.map((b) => processCpuMs(b.pid))) - nodeBefore;
        const threads = Object.entries(addThreads(farm.builders.map((b) => threadCpuMs(b.pid)))).map(([k, v]) => [k, v - (threadsBefore[k] ?? 0)]).filter(([, v]) => v > 0.5);
        const all = allBefore === null ? null : sum(groups.map((g) => g.ms())) - allBefore;
        const s = JSON.parse(run([...client(side.repo), '--show-stats', '--json'], { env, cwd: side.dir }).stdout).stats;
        const remote = s.remote?.farm?.compiles ?? 0;
        side.node.push(node / remote);
        if (all !== null) side.all.push(all / remote);
        log(`round ${round} ${side.label} (load ${l0}→${load()}): ${remote} remote of ${s.misses} misses (fallbacks ${JSON.stringify(s.fallbacks)}); builders' Node ${(node / remote).toFixed(1)} ms per job (${threads.map(([k, v]) => `${k} ${(v / remote).toFixed(1)}`).join(', ')})${all === null ? '' : `, builders with their jobs ${(all / remote).toFixed(1)} ms per job`}`);
      } finally {
        run([...client(side.repo), '--stop-server'], { env, cwd: side.dir });
        await farm.stop();
        for (const g of groups) g?.remove();
      }
    }
  }
  for (const side of sides) log(`${side.label}: builders' Node per job median ${median(side.node)?.toFixed(1)} ms [${side.node.map((x) => x.toFixed(1)).join(', ')}]${side.all.length ? `; with their jobs median ${median(side.all)?.toFixed(1)} ms [${side.all.map((x) => x.toFixed(1)).join(', ')}]` : ''}`);
} finally {
  for (const f of started) await f.stop();
}
