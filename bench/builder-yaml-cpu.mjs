#!/usr/bin/env node
// The builders' own CPU per farm job on yaml-cpp (~31 units, each carrying a predicted include closure of ~330 files),
// this checkout against another one (a branch point), rounds alternated.
//
//   node bench/builder-yaml-cpu.mjs [--vs=/path/to/other/checkout] [--rounds=N] [--jobs=N] [--work=DIR] [--fixtures=DIR]
//                                   [--builder-preload=FILE] [--perf=FILE] [--again]
//
// Per round and checkout: a fresh loopback farm (its scheduler and two bwrap builders, unpinned), a fresh daemon
// (kept cache folder, --clear'ed), a warm-up on a small generated tree until both builders hold the C and C++
// toolchains, then a clean yaml-cpp build (-j --jobs, 8) with every miss sent to the farm. Measured over the build:
// the builders' Node processes (every thread, /proc schedstat) and, as root with cgroup v1, each builder with the
// jobs it starts (a cpuacct cgroup). Prints per round both per remote job and the load average. --again: then the same
// clean build again on the same builders after the client's --clear (blobs held, kept input trees, warm JIT).
// --builder-preload=FILE reaches this checkout's builders as NODE_OPTIONS=--require FILE; they get SIGUSR2 before and after
// the build (bench/results/2026-12-07-builder-tree-preload.cjs: a CPU profile of the build). --perf=FILE: `perf record
// -e cpu-clock -g` on this checkout's builders (not their jobs) over the build, FILE.<round>.<cold or warm>, with --perf-basic-prof.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { client, cpuGroup, median, processCpuMs, run, startFarm } from './farm.mjs';
import { yamlCppBuild, yamlCppClean } from './yaml-cpp-project.mjs';
import { warmUpBuilders, yamlCppRounds } from './yaml-cpp-rounds.mjs';

const { args, work, sides, rounds, jobs, log, load } = yamlCppRounds('builder-yaml-cpu');
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

for (const side of sides) {
  side.node = []; side.all = []; side.nodeWarm = []; side.allWarm = [];
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
        await warmUpBuilders(side, env, round, { cc: compiler('C'), cxx: compiler('CXX') });
        // Cold: the builders hold the toolchains but none of the project's inputs, and their Node processes are fresh.
        // Warm (--again): the same clean build once more (the client's cache cleared): every blob held, every kept input tree
        // of the first build there to be reused, the builders' code compiled.
        for (const phase of args.again ? ['cold', 'warm'] : ['cold']) {
          if (phase === 'warm') run([...client(side.repo), '--clear'], { env, cwd: side.dir });
          run(yamlCppClean(side.build), { cwd: side.dir });
          run([...client(side.repo), '--zero-stats'], { env, cwd: side.dir });
          const l0 = load();
          const nodeBefore = sum(farm.builders.map((b) => processCpuMs(b.pid)));
          const threadsBefore = addThreads(farm.builders.map((b) => threadCpuMs(b.pid)));
          const allBefore = groups.every(Boolean) ? sum(groups.map((g) => g.ms())) : null;
          const profile = () => { if (builderEnv.PROF_OUT) for (const b of farm.builders) b.kill('SIGUSR2'); };
          profile();
          const perf = perfOut ? spawn('perf', ['record', '-e', 'cpu-clock', '-F', '999', '-g', '-o', `${perfOut}.${phase}`, '-p', farm.builders.map((b) => b.pid).join(',')], { stdio: 'ignore' }) : null;
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
          (phase === 'cold' ? side.node : side.nodeWarm).push(node / remote);
          if (all !== null) (phase === 'cold' ? side.all : side.allWarm).push(all / remote);
          log(`round ${round} ${side.label} ${phase} (load ${l0}→${load()}): ${remote} remote of ${s.misses} misses (fallbacks ${JSON.stringify(s.fallbacks)}); builders' Node ${(node / remote).toFixed(1)} ms per job (${threads.map(([k, v]) => `${k} ${(v / remote).toFixed(1)}`).join(', ')})${all === null ? '' : `, builders with their jobs ${(all / remote).toFixed(1)} ms per job`}`);
        }
      } finally {
        run([...client(side.repo), '--stop-server'], { env, cwd: side.dir });
        await farm.stop();
        for (const g of groups) g?.remove();
      }
    }
  }
  for (const side of sides) if (side.nodeWarm.length) log(`${side.label} warm: builders' Node per job median ${median(side.nodeWarm)?.toFixed(1)} ms [${side.nodeWarm.map((x) => x.toFixed(1)).join(', ')}]${side.allWarm.length ? `; with their jobs median ${median(side.allWarm)?.toFixed(1)} ms [${side.allWarm.map((x) => x.toFixed(1)).join(', ')}]` : ''}`);
  for (const side of sides) log(`${side.label}: builders' Node per job median ${median(side.node)?.toFixed(1)} ms [${side.node.map((x) => x.toFixed(1)).join(', ')}]${side.all.length ? `; with their jobs median ${median(side.all)?.toFixed(1)} ms [${side.all.map((x) => x.toFixed(1)).join(', ')}]` : ''}`);
} finally {
  for (const f of started) await f.stop();
}
