#!/usr/bin/env node
// The client daemon's own CPU per farm job on a header-heavy C++ project (yaml-cpp, ~31 units), against the same
// build's local cold misses, this checkout against another one (a branch point), rounds alternated.
//
//   node bench/farm-yaml-cpu.mjs [--vs=/path/to/other/checkout] [--rounds=N] [--local] [--jobs=N] [--work=DIR] [--fixtures=DIR]
//                                [--node-options='--perf-basic-prof'] [--perf=FILE] [--perf-local=FILE] [--fresh-cache] [--daemon-log=debug] [--no-cross-arch]
//
// Per round and checkout: a fresh loopback farm (its scheduler and two bwrap builders, unpinned), a fresh daemon
// (kept cache folder, --clear'ed: the packaged toolchains stay), a warm-up on a small generated tree until both
// builders hold the C and C++ toolchains, then a clean yaml-cpp build (-j --jobs, 8) with every miss sent to the
// farm; the daemon's CPU (every thread, /proc schedstat) and its launcher's (with the scans it runs) from before the
// build until it is idle again. With --local:
// then a fresh daemon without the farm, --clear, the same clean build (cold local misses). Prints per round the
// daemon's CPU per job and the load average. --node-options reaches the measured daemons (NODE_OPTIONS);
// --daemon-log=LEVEL: the measured daemons' log level (their daemon.log in the work folder: a timeline of the jobs).
// --no-cross-arch: dist.crossArch off (no equivalence probe before a compiler's first allocation).
// --fresh-cache: a new cache folder per round (as bench/farm.mjs's build scenario has): the toolchains are packaged in
// the warm-up (make's gcc and g++) and, for cmake's c++ and cc, during the measured build.
// --perf=FILE: `perf record -e cpu-clock -g` on this checkout's farm-build daemon (on-CPU samples only; pair with
// --node-options=--perf-basic-prof for JS frames); --perf-local=FILE: the same on its local build's daemon.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { client, daemonIdleCpuMs, median, run, startFarm } from './farm.mjs';
import { yamlCppBuild, yamlCppClean } from './yaml-cpp-project.mjs';
import { warmUpBuilders, yamlCppRounds } from './yaml-cpp-rounds.mjs';

const { args, sides, rounds, jobs, log, load } = yamlCppRounds('farm-yaml-cpu');
for (const side of sides) {
  side.farm = []; side.local = []; side.launcher = [];
}

/** The daemon's CPU over one clean build with `env`; the misses and farm compiles it counted. */
async function measuredBuild(side, env, profile) {
  run(yamlCppClean(side.build), { cwd: side.dir });
  run([...client(side.repo), '--zero-stats'], { env, cwd: side.dir });
  const before = await daemonIdleCpuMs(env.REPRISE_RUNTIME_DIR);
  const perf = profile ? spawn('perf', ['record', '-e', 'cpu-clock', '-g', '-o', profile, '-p', daemonPid(env.REPRISE_RUNTIME_DIR)], { stdio: 'ignore' }) : null;
  const b = run(yamlCppBuild(side.build, jobs), { cwd: side.dir, env });
  if (b.error) throw new Error(`${side.label} build: ${b.error}`);
  const after = await daemonIdleCpuMs(env.REPRISE_RUNTIME_DIR);
  if (perf) await new Promise((r) => { perf.once('exit', r); perf.kill('SIGINT'); });
  const s = JSON.parse(run([...client(side.repo), '--show-stats', '--json'], { env, cwd: side.dir }).stdout).stats;
  run([...client(side.repo), '--stop-server'], { env, cwd: side.dir });
  return { cpuMs: after.daemon - before.daemon, launcherMs: after.helper - before.helper, misses: s.misses, remote: s.remote?.farm?.compiles ?? 0, roundTrips: s.remote?.farm?.roundTrips ?? 0, fallbacks: s.fallbacks, speculation: s.speculation ?? {} };
}

/** The pid of the daemon serving `runtimeDir`. */
function daemonPid(runtimeDir) {
  for (const pid of run(['pgrep', '-f', 'packages/core/dist/daemon/entry.js']).stdout.split('\n').filter(Boolean)) {
    try {
      if (fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`REPRISE_RUNTIME_DIR=${runtimeDir}`)) return pid;
    } catch { /* gone */ }
  }
  throw new Error(`no daemon for ${runtimeDir}`);
}

const started = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 ? sides : [...sides].reverse();
    for (const side of order) {
      const base = { REPRISE_DIR: path.join(side.dir, args['fresh-cache'] ? `cache${round}` : 'cache'), REPRISE_IDLE_TIMEOUT: '600', LC_ALL: 'C', ...(typeof args['node-options'] === 'string' ? { NODE_OPTIONS: args['node-options'] } : {}), ...(typeof args['daemon-log'] === 'string' ? { REPRISE_LOG: args['daemon-log'] } : {}), ...(args['no-cross-arch'] ? { REPRISE_DIST_CROSS_ARCH: '0' } : {}) };
      const farm = await startFarm(path.join(side.dir, `farm${round}`), 2, { repo: side.repo });
      started.push(farm);
      const env = { ...base, REPRISE_RUNTIME_DIR: path.join(side.dir, `run${round}`), REPRISE_DIST_SCHEDULER_URL: farm.url, REPRISE_DIST_TOKEN: farm.clientToken, REPRISE_DIST_MODE: 'always' };
      try {
        run([...client(side.repo), '--clear'], { env, cwd: side.dir });
        await warmUpBuilders(side, env, round, { cc: 'gcc', cxx: 'g++', log });
        const l0 = load();
        const m = await measuredBuild(side, env, side.label === 'this' && typeof args.perf === 'string' ? path.resolve(args.perf) : undefined);
        side.farm.push(m.cpuMs / m.misses);
        side.launcher.push(m.launcherMs / m.misses);
        log(`round ${round} ${side.label} farm (load ${l0}→${load()}): daemon ${m.cpuMs.toFixed(0)} ms for ${m.misses} misses (${m.remote} remote, ${m.roundTrips} builder round trips; fallbacks ${JSON.stringify(m.fallbacks)}; ${JSON.stringify(m.speculation)}): ${(m.cpuMs / m.misses).toFixed(1)} ms per job; its launcher (scans) ${(m.launcherMs / m.misses).toFixed(1)} ms per job`);
      } finally {
        run([...client(side.repo), '--stop-server'], { env, cwd: side.dir });
        await farm.stop();
      }
      if (args.local) {
        const lenv = { ...base, REPRISE_RUNTIME_DIR: path.join(side.dir, `local${round}`) };
        run([...client(side.repo), '--clear'], { env: lenv, cwd: side.dir });
        const l0 = load();
        const m = await measuredBuild(side, lenv, side.label === 'this' && typeof args['perf-local'] === 'string' ? path.resolve(args['perf-local']) : undefined);
        side.local.push(m.cpuMs / m.misses);
        log(`round ${round} ${side.label} local (load ${l0}→${load()}): daemon ${m.cpuMs.toFixed(0)} ms for ${m.misses} misses: ${(m.cpuMs / m.misses).toFixed(1)} ms per miss`);
      }
    }
  }
  for (const side of sides) log(`${side.label}: daemon CPU per farm job median ${median(side.farm)?.toFixed(1)} ms [${side.farm.map((x) => x.toFixed(1)).join(', ')}]${side.local.length ? `; per local miss median ${median(side.local)?.toFixed(1)} ms [${side.local.map((x) => x.toFixed(1)).join(', ')}]` : ''}`);
  for (const side of sides) log(`${side.label}: launcher CPU per farm job median ${median(side.launcher)?.toFixed(1)} ms [${side.launcher.map((x) => x.toFixed(1)).join(', ')}]`);
  if (sides.length === 2) log(`per round this − other (farm): daemon [${sides[0].farm.map((x, i) => (x - sides[1].farm[i]).toFixed(1)).join(', ')}] ms per job; daemon + launcher [${sides[0].farm.map((x, i) => (x + sides[0].launcher[i] - sides[1].farm[i] - sides[1].launcher[i]).toFixed(1)).join(', ')}] ms per job`);
} finally {
  for (const f of started) await f.stop();
}
