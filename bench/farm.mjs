#!/usr/bin/env node
// Build-farm benchmark, on loopback with real processes: the real scheduler (`reprise-dist scheduler`),
// bwrap builders (`reprise-dist builder`) and a client daemon sending every miss to the farm.
//
//   node bench/farm.mjs [--quick] [--only=cost|build] [--runs=N] [--units=N] [--work=DIR] [--json=PATH] [--daemon-preload=FILE]
//                       [--project=generated|generated-heavy|yaml-cpp] [--reps=N] [--jobs=N] [--slots=N] [--running=N] [--fixtures=DIR]
//
// --daemon-preload=FILE preloads FILE into the client daemon of the cost scenario (NODE_OPTIONS=--require), e.g. a
// script starting node:inspector's profiler and writing the profile at exit (--cpu-prof is not allowed in
// NODE_OPTIONS). A profiler inflates spawns several-fold: read it for where the time goes, not for totals.
//
// Scenarios
//   cost   the farm's own cost per job: the wall time of a miss compiled on the farm (the builder already
//          holds the toolchain and inputs: one round trip) minus the same miss compiled in bwrap on this
//          machine (hermetic mode), median over runs, for a small C++ file (test-fixtures/bench/small.cpp)
//          and a large, CPU-bound C file. Each run compiles in its own directory (a miss: the cwd is in
//          the key) with the same bytes. Also the daemon's CPU per farm job, and per ordinary local miss of the
//          same file in the same daemon (the difference is the client's own work for the farm).
//   build  a clean build of --project through the farm with two builders, each pinned to its own core (taskset),
//          --slots job slots each (2; --running of them compile at once, default the builder's: its one core), at -j --jobs (8), against the same project built plainly with one job pinned to
//          one core: ratio of wall times (the issue's goal: >= 1.8x faster on a CPU-bound project), beside the same
//          project built plainly with two jobs on both cores (what this machine's two cores give at best). Projects: the
//          generated tree (bench/generated-tree.mjs, --units small units, ~0.4 s each: spawn-bound), generated-heavy
//          (its C units with 3000 more lines each, seconds per unit) and yaml-cpp (.fixtures/yaml-cpp, from
//          scripts/fetch-fixture-sources.sh, built as bench/run.mjs builds it: ~30 C++ units of about a second).
//          --reps pairs (2), plain and farm alternated; each farm build on a fresh farm and client cache, after a
//          warm-up on a small generated tree (toolchains packaged and on both builders). Per farm build: misses
//          remote, fallbacks by reason, each builder's busy fraction of its core (overall and per tenth of the build) and its idle 250 ms intervals (the
//          CPU of its process tree, sampled), and the client's CPU meanwhile (make/cmake and the launchers; the
//          daemon and its launcher, with any local compile).
//
// Every child has a timeout; every process started here is stopped at the end.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeneratedTree } from './generated-tree.mjs';
import { yamlCppBuild, yamlCppClean, yamlCppConfigure } from './yaml-cpp-project.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const distBin = (repo) => path.join(repo, 'packages', 'dist', 'dist', 'bin', 'reprise-dist.js');
const DIST = distBin(REPO);
const SMALL = path.join(REPO, 'test-fixtures', 'bench', 'small.cpp');

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
const baseEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CCACHE_|SCCACHE_|REPRISE_)/.test(k) && !['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL'].includes(k)));

export function run(argv, { env = {}, cwd, timeoutMs = 600_000 } = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env: { ...baseEnv(), ...env }, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const error = r.error ? String(r.error.message) : r.status !== 0 ? `exit ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}` : null;
  return { ms, stdout: r.stdout ?? '', error };
}

/** Starts a farm process, resolving once it says where it listens. */
function startListening(argv, env, label) {
  const child = spawn(argv[0], argv.slice(1), { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${label} did not start: ${out}`)); }, 120_000);
    child.stdout.on('data', () => {
      const m = /listening (?:at|on) (\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, url: m[1], output: () => out }); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${label} exited (${code}): ${out}`)); });
  });
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); setTimeout(() => child.kill('SIGKILL'), 10_000).unref(); });
}

/** A scheduler and `n` builders (of the checkout `repo`); builder i pinned to core i when `pin`. */
export async function startFarm(dir, n, { pin = false, maxJobs = 2, maxRunningJobs, repo = REPO, builderEnv = {}, logLevel = 'warn' } = {}) {
  const DIST = distBin(repo);
  fs.mkdirSync(dir, { recursive: true });
  const clientToken = `bench-client-${process.pid}-${Date.now()}`;
  const builderToken = `bench-builder-${process.pid}-${Date.now()}`;
  const schedConfig = path.join(dir, 'scheduler.json');
  fs.writeFileSync(schedConfig, JSON.stringify({ listen: '127.0.0.1:0', auth: { clientTokens: [clientToken], builderTokens: [builderToken] }, heartbeatIntervalMs: 1000 }));
  const procs = [];
  const outputs = [];
  const sched = await startListening([process.execPath, DIST, 'scheduler', '--config', schedConfig], {}, 'scheduler');
  procs.push(sched.child);
  for (let i = 0; i < n; i++) {
    const cfg = path.join(dir, `builder${i}.json`);
    fs.writeFileSync(cfg, JSON.stringify({ schedulerUrl: sched.url, token: builderToken, builderId: `bench-${i}`, listen: { host: '127.0.0.1', port: 0 }, dataDir: path.join(dir, `b${i}`), sandbox: 'bwrap', maxJobs, ...(maxRunningJobs ? { maxRunningJobs } : {}), yieldAboveLoad: 1e6, logLevel }));
    const argv = [...(pin ? ['taskset', '-c', String(i)] : []), process.execPath, DIST, 'builder', '--config', cfg];
    const b = await startListening(argv, builderEnv, `builder ${i}`);
    procs.push(b.child);
    outputs.push(b.output);
  }
  return { url: sched.url, clientToken, builders: procs.slice(1), builderOutputs: () => outputs.map((o) => o()), stop: () => Promise.all(procs.map(stop)) };
}

/** The compiler launcher of the checkout `repo`: its native client, else the Node one. */
export const client = (repo = REPO) => {
  const native = path.join(repo, 'packages', 'core', 'dist', 'native', 'reprise-native');
  return fs.existsSync(native) ? [native] : [process.execPath, path.join(repo, 'packages', 'core', 'dist', 'bin', 'reprise.js')];
};

/**
 * CPU of a process in ms, to the nanosecond: the sum of its threads' run time (/proc/PID/task/TID/schedstat),
 * where utime + stime come in 10 ms clock ticks. With `children`: plus the CPU of the children it has waited for
 * (cutime + cstime, in ticks: the launcher's compilers and scans, each tens of ms).
 */
export function processCpuMs(pid, { children = false } = {}) {
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch { /* thread gone */ }
  }
  let ms = ns / 1e6;
  if (children) {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    ms += ((Number(f[13]) + Number(f[14])) * 1000) / 100;
  }
  return ms;
}

/** daemonCpuMs once the daemon has been idle for a moment (its CPU still over 150 ms), at most 5 s of waiting. */
export async function daemonIdleCpuMs(runtimeDir) {
  let last = daemonCpuMs(runtimeDir);
  for (let waited = 0; last && waited < 5000; waited += 150) {
    await new Promise((r) => setTimeout(r, 150));
    const now = daemonCpuMs(runtimeDir);
    if (!now) return last;
    const busy = now.daemon - last.daemon + now.helper - last.helper;
    last = now;
    if (busy < 0.5) break;
  }
  return last;
}

/** The daemon's own CPU, and its compiler launcher's (`reprise-native --spawn-helper`, a child of the daemon: it runs the scans and local compiles). */
function daemonCpuMs(runtimeDir) {
  // The daemon holds the lock file open; its pid is the one whose cwd-independent cmdline names the daemon entry.
  const r = run(['pgrep', '-f', 'packages/core/dist/daemon/entry.js']);
  for (const pid of r.stdout.split('\n').filter(Boolean)) {
    try {
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (!env.includes(`REPRISE_RUNTIME_DIR=${runtimeDir}`)) continue;
      let helper = 0;
      for (const child of fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean)) {
        try {
          if (fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('--spawn-helper')) helper += processCpuMs(child, { children: true });
        } catch { /* gone */ }
      }
      return { daemon: processCpuMs(pid), helper };
    } catch { /* gone */ }
  }
  return null;
}

async function costScenario(o) {
  const dir = path.join(o.work, 'cost');
  fs.rmSync(dir, { recursive: true, force: true });
  const farm = await startFarm(path.join(dir, 'farm'), 1);
  const rows = [];
  try {
    const large = ['int work(int x) {', ...Array.from({ length: 1500 }, (_, i) => `  x = x * ${(i % 7) + 3} + (x >> ${(i % 5) + 1}) ^ ${i};`), '  return x;\n}\n'].join('\n');
    const files = [
      { name: 'small.cpp', text: fs.readFileSync(SMALL, 'utf8'), argv: ['g++', '-std=c++17', '-O2', '-g'] },
      { name: 'large.c', text: large, argv: ['gcc', '-O2', '-g'] },
      // -MMD: the engine scans (-M) beside the compile for the manifest; the farm job takes that scan for its closure.
      { name: 'small.cpp', variant: '-MMD', text: fs.readFileSync(SMALL, 'utf8'), argv: ['g++', '-std=c++17', '-O2', '-g', '-MMD'] },
      // Without -g the key holds no directory: a definition of its own per run and mode keeps every call a miss, so its
      // source is new to the builder every time (as an edited file is): it goes up before the run (two round trips).
      { name: 'small.cpp', variant: 'no -g', text: fs.readFileSync(SMALL, 'utf8'), argv: ['g++', '-std=c++17', '-O2'], unique: true },
    ];
    const reprise = { REPRISE_DIR: path.join(dir, 'cache'), REPRISE_RUNTIME_DIR: path.join(dir, 'run'), REPRISE_IDLE_TIMEOUT: '300', LC_ALL: 'C', ...(o.daemonProfile ? { NODE_OPTIONS: `--require ${o.daemonProfile}` } : {}) };
    const modes = {
      plain: { prefix: [], env: { LC_ALL: 'C' } },
      // An ordinary miss in the same daemon: what the daemon spends on a miss anyway (key, compile's spawn, store).
      local: { prefix: client(), env: reprise },
      hermetic: { prefix: client(), env: { ...reprise, REPRISE_HERMETIC: 'bwrap' } },
      farm: { prefix: client(), env: { ...reprise, REPRISE_DIST_SCHEDULER_URL: farm.url, REPRISE_DIST_TOKEN: farm.clientToken, REPRISE_DIST_MODE: 'always' } },
    };
    for (const f of files) {
      const samples = { plain: [], local: [], hermetic: [], farm: [] };
      // Per call: the daemon's CPU from before the call until it is idle again (its store after the answer included).
      const cpu = { local: [], farm: [] };
      const helperCpu = { local: [], farm: [] };
      for (let i = -1; i < o.runs; i++) {
        // After the warm-up: the counters (round trips per job) are the measured runs' alone.
        if (i === 0) run([...client(), '--zero-stats'], { env: reprise, cwd: dir });
        for (const [mode, m] of Object.entries(modes)) {
          const d = path.join(dir, f.variant ? `${f.name}-${f.variant.replace(/\W+/g, '')}` : f.name, mode, String(i + 1));
          fs.mkdirSync(d, { recursive: true });
          fs.writeFileSync(path.join(d, f.name), f.unique ? `${f.text}\nint bench_run_${mode}_${i + 1};\n` : f.text);
          const measured = mode === 'farm' || mode === 'local';
          const before = measured ? await daemonIdleCpuMs(reprise.REPRISE_RUNTIME_DIR) : null;
          const r = run([...m.prefix, ...f.argv, '-c', f.name, '-o', 'out.o'], { env: m.env, cwd: d });
          if (r.error) throw new Error(`${mode} ${f.name}: ${r.error}`);
          const after = measured ? await daemonIdleCpuMs(reprise.REPRISE_RUNTIME_DIR) : null;
          if (i < 0) continue; // warm-up: packages the toolchain, fills the builder
          samples[mode].push(r.ms);
          if (before !== null && after !== null) {
            cpu[mode].push(after.daemon - before.daemon);
            helperCpu[mode].push(after.helper - before.helper);
          }
        }
      }
      const s = JSON.parse(run([...client(), '--show-stats', '--json'], { env: reprise, cwd: dir }).stdout).stats;
      const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
      const row = {
        scenario: 'cost', file: f.variant ? `${f.name} (${f.variant})` : f.name, plainMs: med.plain, hermeticMs: med.hermetic, farmMs: med.farm,
        farmCostMs: med.farm - med.hermetic, farmRatio: med.farm / med.plain,
        daemonCpuMsPerFarmJob: median(cpu.farm),
        daemonCpuMsPerLocalMiss: median(cpu.local),
        scanHelperCpuMsPerFarmJob: median(helperCpu.farm),
        scanHelperCpuMsPerLocalMiss: median(helperCpu.local),
        remote: s.remote?.farm ?? null, fallbacks: s.fallbacks, runs: o.runs,
        // Builder round trips per farm job (its run, and any uploads before it); the allocation is one more, to the scheduler.
        builderRoundTripsPerJob: s.remote?.farm?.compiles ? s.remote.farm.roundTrips / s.remote.farm.compiles : null,
      };
      rows.push(row);
      o.log(`${row.file}: plain ${med.plain.toFixed(0)} ms, bwrap ${med.hermetic.toFixed(0)} ms, farm ${med.farm.toFixed(0)} ms: the farm's own cost ${row.farmCostMs.toFixed(0)} ms; daemon CPU per farm job ${row.daemonCpuMsPerFarmJob?.toFixed(1) ?? '?'} ms, per local miss ${row.daemonCpuMsPerLocalMiss?.toFixed(1) ?? '?'} ms; builder round trips per farm job ${row.builderRoundTripsPerJob?.toFixed(2) ?? '?'} (+1 allocation); launcher CPU (with its children: scans, local compiles) per farm job ${row.scanHelperCpuMsPerFarmJob?.toFixed(1) ?? '?'} ms, per local miss ${row.scanHelperCpuMsPerLocalMiss?.toFixed(1) ?? '?'} ms (medians)`);
    }
    run([...client(), '--stop-server'], { env: reprise, cwd: dir });
  } finally {
    await farm.stop();
  }
  return rows;
}

/** A build the scenario times: its plain and farm build commands, and how to make either clean again. */
export function buildProject(o, dir) {
  const cc = client(o.repo).join(' ');
  if (o.project === 'yaml-cpp') {
    const src = path.join(o.fixtures, 'yaml-cpp');
    if (!fs.existsSync(path.join(src, '.reprise-fixture'))) throw new Error(`${src} is missing: run scripts/fetch-fixture-sources.sh ${o.fixtures}`);
    const plainDir = path.join(dir, 'build-plain');
    const farmDir = path.join(dir, 'build-farm');
    for (const [d, launcher] of [[plainDir, []], [farmDir, client(o.repo)]]) {
      const r = run(yamlCppConfigure(src, d, launcher), { cwd: dir });
      if (r.error) throw new Error(`cmake configure: ${r.error}`);
    }
    return {
      label: 'yaml-cpp (cmake --build)', cwd: dir,
      plain: yamlCppBuild(plainDir, 1), plainTwoJobs: yamlCppBuild(plainDir, 2), farm: yamlCppBuild(farmDir, o.jobs),
      clean: () => { run(yamlCppClean(plainDir), { cwd: dir }); run(yamlCppClean(farmDir), { cwd: dir }); },
    };
  }
  const heavyLines = o.project === 'generated-heavy' ? 3000 : 0;
  const tree = writeGeneratedTree(path.join(dir, 'tree'), o.units, { heavyLines });
  return {
    label: `${o.units} generated units${heavyLines ? ` (C units with ${heavyLines} more lines each)` : ''} (make)`, cwd: tree,
    plain: ['make', '-j1'], plainTwoJobs: ['make', '-j2'], farm: ['make', `-j${o.jobs}`, `CC=${cc} gcc`, `CXX=${cc} g++`],
    clean: () => run(['make', 'clean'], { cwd: tree }),
  };
}

/**
 * Counts the CPU of a process tree between calls, in ms (10 ms clock ticks): each live process's own time since
 * it was last seen (from 0 for a new one). A process's children's time reaches it only through wait(), which a
 * sandbox's pid-namespace init need not give: summing each process's own time avoids counting or losing that.
 * A process that ends between two calls loses its last interval.
 */
function treeCpuCounter(rootPid) {
  const seen = new Map();
  const pids = (pid) => {
    const out = [pid];
    try {
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean)) out.push(...pids(Number(c)));
      }
    } catch { /* gone */ }
    return out;
  };
  return () => {
    let ms = 0;
    for (const pid of pids(rootPid)) {
      try {
        const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        const t = (Number(f[11]) + Number(f[12])) * 10;
        ms += t - (seen.get(pid) ?? 0);
        seen.set(pid, t);
      } catch { /* gone */ }
    }
    return ms;
  };
}

/**
 * A cpuacct cgroup (v1) holding a builder and so every job it starts: the builder's CPU with its jobs', which its
 * children times miss (a compile is reaped by its sandbox's pid-namespace init). Null without root or a v1 cpuacct
 * hierarchy (under v2 the builder moves each job into a cgroup of its own).
 */
export function cpuGroup(name, pid) {
  const dir = path.join('/sys/fs/cgroup/cpuacct', name);
  try {
    fs.mkdirSync(dir);
  } catch {
    return null;
  }
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  } catch {
    fs.rmdirSync(dir);
    return null;
  }
  return { ms: () => Number(fs.readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8')) / 1e6, remove: () => { try { fs.rmdirSync(dir); } catch { /* a process left */ } } };
}

/** The CPU this process has reaped from its waited-for children (the builds run here), in ms. */
const reapedCpuMs = () => { const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' '); return (Number(f[13]) + Number(f[14])) * 10; };

/** Runs argv like run(), sampling each builder's CPU every `everyMs` meanwhile: per builder, the fraction of its core it used in each interval. */
function runSampling(argv, { env, cwd, builders, everyMs = 250 }) {
  const t = process.hrtime.bigint();
  const startedAt = Date.now();
  const counters = builders.map((b) => treeCpuCounter(b.pid));
  counters.forEach((c) => c()); // what the builders used before the build is not the build's
  const busy = builders.map(() => []);
  const timer = setInterval(() => counters.forEach((c, i) => busy[i].push(c() / everyMs)), everyMs);
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    const kill = setTimeout(() => child.kill('SIGKILL'), 900_000);
    child.once('exit', (code, signal) => {
      clearInterval(timer);
      clearTimeout(kill);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      resolve({ ms, busy, startedAt, endedAt: Date.now(), error: code === 0 ? null : `exit ${code ?? signal}: ${err.trim().split('\n').slice(-3).join(' ')}` });
    });
  });
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** How many toolchains each builder of `farm` holds, as the scheduler's status lists them. */
async function heldToolchains(farm) {
  const { DIST_PROTOCOL_VERSION } = await import(path.join(REPO, 'packages', 'dist', 'dist', 'protocol', 'common.js'));
  const r = await fetch(`${farm.url}/v1/status`, { headers: { authorization: `Bearer ${farm.clientToken}`, 'x-reprise-dist-protocol': String(DIST_PROTOCOL_VERSION) } });
  const body = await r.json();
  return body.pools.flatMap((p) => p.builders).map((b) => b.toolchains.length);
}

/**
 * One farm build: a fresh farm (two builders pinned to cores 0 and 1) and client cache, warmed up on a small
 * generated tree in another directory (packages the toolchains; puts them and the system headers on both builders).
 */
export async function farmBuildOnce(o, dir, project, rep) {
  // o.repo: the checkout whose farm and client run (bench/farm-timeline.mjs compares two); o.timeline: debug logs kept.
  const farm = await startFarm(path.join(dir, `farm${rep}`), 2, { pin: true, maxJobs: o.slots, ...(o.running ? { maxRunningJobs: o.running } : {}), ...(o.repo ? { repo: o.repo } : {}), ...(o.timeline ? { logLevel: 'debug' } : {}) });
  const groups = farm.builders.map((b, i) => cpuGroup(`reprise-bench-farm-${process.pid}-${rep}-${i}`, b.pid));
  const reprise = { REPRISE_DIR: path.join(dir, `cache${rep}`), REPRISE_RUNTIME_DIR: path.join(dir, `run${rep}`), REPRISE_IDLE_TIMEOUT: '300', LC_ALL: 'C', REPRISE_DIST_SCHEDULER_URL: farm.url, REPRISE_DIST_TOKEN: farm.clientToken, REPRISE_DIST_MODE: 'always', ...(o.daemonProfile ? { NODE_OPTIONS: `--require ${o.daemonProfile}` } : {}), ...(o.timeline ? { REPRISE_LOG: 'debug' } : {}) };
  const cli = client(o.repo);
  try {
    const cc = cli.join(' ');
    // Until both builders hold every toolchain (C and C++): a builder that gets its first C++ job in the measured
    // build would spend its first seconds receiving the archive (~30 MB), a cost of a farm's first build only.
    let held = [];
    for (let w = 1; w <= 6; w++) {
      const warm = path.join(dir, `warm${w}-${rep}`);
      writeGeneratedTree(warm, 16);
      run(['make', '-j16', `CC=${cc} gcc`, `CXX=${cc} g++`], { cwd: warm, env: reprise });
      await new Promise((r) => setTimeout(r, 1500)); // a heartbeat (1 s) reports what each builder holds
      held = await heldToolchains(farm);
      if (held.length === 2 && held.every((n) => n === Math.max(...held) && n >= 2)) break;
    }
    o.log(`warm-up: toolchains held per builder ${held.join(', ')}`);
    run([...cli, '--zero-stats'], { env: reprise, cwd: dir });
    const daemonBefore = await daemonIdleCpuMs(reprise.REPRISE_RUNTIME_DIR);
    const reapedBefore = reapedCpuMs();
    const builderCpu = () => ({ all: groups.every(Boolean) ? sum(groups.map((g) => g.ms())) : null, node: sum(farm.builders.map((b) => processCpuMs(b.pid))) });
    const builderBefore = builderCpu();
    const f = await runSampling(project.farm, { env: reprise, cwd: project.cwd, builders: farm.builders });
    if (f.error) throw new Error(`farm build: ${f.error}`);
    const builderAfter = builderCpu();
    const buildTreeCpuMs = reapedCpuMs() - reapedBefore;
    const daemonAfter = await daemonIdleCpuMs(reprise.REPRISE_RUNTIME_DIR);
    const s = JSON.parse(run([...cli, '--show-stats', '--json'], { env: reprise, cwd: dir }).stdout).stats;
    run([...cli, '--stop-server'], { env: reprise, cwd: dir });
    const daemonLog = path.join(reprise.REPRISE_RUNTIME_DIR, 'daemon.log');
    const timeline = o.timeline ? { startedAt: f.startedAt, endedAt: f.endedAt, daemonLog: fs.existsSync(daemonLog) ? fs.readFileSync(daemonLog, 'utf8') : '', builderLogs: farm.builderOutputs() } : undefined;
    const builders = f.busy.map((b) => ({
      busyFraction: b.length ? sum(b) / b.length : null,
      // Intervals of the build in which the builder used under a tenth of its core (waiting for work, or for a share of it).
      idleIntervals: b.filter((x) => x < 0.1).length, intervals: b.length,
      // Its busy fraction in each tenth of the build: where the gaps are (the start's uploads, the last jobs, the link).
      byTenth: Array.from({ length: 10 }, (_, t) => { const part = b.slice(Math.floor((t * b.length) / 10), Math.floor(((t + 1) * b.length) / 10)); return part.length ? sum(part) / part.length : null; }),
    }));
    return {
      farmMs: f.ms, ...(timeline ? { timeline } : {}), remote: s.remote?.farm ?? null, misses: s.misses, fallbacks: s.fallbacks, builders,
      // The builders' CPU over the build (their jobs' with it when a cgroup could hold them), and of their Node processes.
      builderCpuMs: { all: builderBefore.all === null ? null : builderAfter.all - builderBefore.all, node: builderAfter.node - builderBefore.node },
      // What shares the two cores with the builders: make/cmake and the launchers (with any local fallback compile), and the daemon.
      clientCpuMs: { buildTree: buildTreeCpuMs, daemon: daemonBefore && daemonAfter ? daemonAfter.daemon - daemonBefore.daemon + daemonAfter.helper - daemonBefore.helper : null,
        // Of which the daemon's own process (every thread) and its launcher with the scans it ran.
        daemonOwn: daemonBefore && daemonAfter ? daemonAfter.daemon - daemonBefore.daemon : null, launcher: daemonBefore && daemonAfter ? daemonAfter.helper - daemonBefore.helper : null },
    };
  } finally {
    await farm.stop();
    for (const g of groups) g?.remove();
  }
}

/**
 * Issue 10's builder-side ratio: the builders' CPU per farm job (Node, launcher, bwrap and the compile) over the
 * plain build's CPU per compile; null without a cgroup to count the jobs' CPU.
 */
function builderSide(row) {
  const jobs = row.remote?.compiles ?? 0;
  if (!jobs || row.builderCpuMs.all === null || !row.misses) return null;
  const perJob = row.builderCpuMs.all / jobs;
  const plainPerCompile = row.localCpuMs / row.misses;
  return { perJobMs: perJob, nodePerJobMs: row.builderCpuMs.node / jobs, plainPerCompileMs: plainPerCompile, ratio: perJob / plainPerCompile };
}
const builderSideText = (b) => (b ? `builder CPU per job ${b.perJobMs.toFixed(1)} ms (its Node process ${b.nodePerJobMs.toFixed(1)} ms) against ${b.plainPerCompileMs.toFixed(1)} ms per plain compile: builder-side ${b.ratio.toFixed(2)}x` : 'builder-side ratio not measured (no cpuacct cgroup here)');

async function buildScenario(o) {
  const dir = path.join(o.work, 'build');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const project = buildProject(o, dir);
  const rows = [];
  // Plain and farm alternate, so that the other work on the machine weighs on both alike.
  for (let rep = 1; rep <= o.reps; rep++) {
    project.clean();
    const load = os.loadavg()[0];
    const reapedBefore = reapedCpuMs();
    const local = run(['taskset', '-c', '0', ...project.plain], { cwd: project.cwd });
    if (local.error) throw new Error(`plain build: ${local.error}`);
    const localCpuMs = reapedCpuMs() - reapedBefore;
    project.clean();
    const farm = await farmBuildOnce(o, dir, project, rep);
    // The one-core build moves by up to a quarter from one minute to the next on a shared VM: time it again after
    // the farm build, so that the farm is compared with the mean of two plain builds on either side of it.
    project.clean();
    const reapedAfter = reapedCpuMs();
    const localAgain = run(['taskset', '-c', '0', ...project.plain], { cwd: project.cwd });
    if (localAgain.error) throw new Error(`plain build: ${localAgain.error}`);
    const localAgainCpuMs = reapedCpuMs() - reapedAfter;
    const plainMs = (local.ms + localAgain.ms) / 2;
    // What this machine itself gives two cores (plain -j2 on both): the farm's two pinned builders cannot beat it.
    project.clean();
    const twoCores = run(['taskset', '-c', '0,1', ...project.plainTwoJobs], { cwd: project.cwd });
    if (twoCores.error) throw new Error(`plain two-core build: ${twoCores.error}`);
    const row = { scenario: 'build', project: o.project, label: project.label, rep, jobs: o.jobs, slotsPerBuilder: o.slots, loadAvg1: [load, os.loadavg()[0]], localOneCoreMs: plainMs, localOneCoreSamplesMs: [local.ms, localAgain.ms], localCpuMs: (localCpuMs + localAgainCpuMs) / 2, localTwoCoresMs: twoCores.ms, ...farm, speedup: plainMs / farm.farmMs, twoCoreSpeedup: plainMs / twoCores.ms };
    row.builderSide = builderSide(row);
    rows.push(row);
    const fb = Object.entries(row.fallbacks ?? {}).map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
    o.log(`${project.label}, run ${rep} (load ${row.loadAvg1.map((x) => x.toFixed(1)).join('→')}): plain -j1 on one core ${(plainMs / 1000).toFixed(1)} s (before and after the farm: ${(local.ms / 1000).toFixed(1)} and ${(localAgain.ms / 1000).toFixed(1)} s; CPU ${(row.localCpuMs / 1000).toFixed(1)} s), farm -j${o.jobs} on two pinned builders ${(farm.farmMs / 1000).toFixed(1)} s: ${row.speedup.toFixed(2)}x (plain -j2 on both cores ${(twoCores.ms / 1000).toFixed(1)} s: ${row.twoCoreSpeedup.toFixed(2)}x); `
      + `${row.remote?.compiles ?? 0} of ${row.misses} misses remote, fallbacks: ${fb}; builders busy ${row.builders.map((b) => `${(100 * b.busyFraction).toFixed(0)} % (${b.idleIntervals}/${b.intervals} idle 250 ms)`).join(', ')}; `
      + `${builderSideText(row.builderSide)}; client CPU ${(row.clientCpuMs.buildTree / 1000).toFixed(1)} s build tree + ${((row.clientCpuMs.daemon ?? 0) / 1000).toFixed(1)} s daemon (${((row.clientCpuMs.daemonOwn ?? 0) / 1000).toFixed(1)} s its process, ${((row.clientCpuMs.launcher ?? 0) / 1000).toFixed(1)} s its launcher and scans); `
      + `busy by tenth of the build ${row.builders.map((b) => b.byTenth.map((x) => (x === null ? '-' : (100 * x).toFixed(0))).join('/')).join(' and ')} %`);
  }
  return rows;
}

/** The rows as a Markdown section of the bench report. */
export function farmMarkdown(rows) {
  const L = ['### Build farm (bench/farm.mjs)', '', '| file | plain | bwrap here | farm | farm\'s own cost | daemon CPU / farm job | launcher CPU / farm job | daemon CPU / local miss | builder round trips / job |', '|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows.filter((x) => x.scenario === 'cost')) {
    L.push(`| ${r.file} | ${r.plainMs.toFixed(0)} ms | ${r.hermeticMs.toFixed(0)} ms | ${r.farmMs.toFixed(0)} ms | ${r.farmCostMs.toFixed(0)} ms | ${r.daemonCpuMsPerFarmJob?.toFixed(1) ?? '?'} ms | ${r.scanHelperCpuMsPerFarmJob?.toFixed(1) ?? '?'} ms | ${r.daemonCpuMsPerLocalMiss?.toFixed(1) ?? '?'} ms | ${r.builderRoundTripsPerJob?.toFixed(2) ?? '?'} |`);
  }
  for (const r of rows.filter((x) => x.scenario === 'build')) {
    const fb = Object.entries(r.fallbacks ?? {}).map(([k, v]) => `${v} ${k}`).join(', ') || 'no fallback';
    L.push('', `Clean build of ${r.label}, run ${r.rep} (load ${r.loadAvg1.map((x) => x.toFixed(1)).join('–')}): plain -j1 on one core ${(r.localOneCoreMs / 1000).toFixed(1)} s (mean of ${r.localOneCoreSamplesMs.map((x) => (x / 1000).toFixed(1)).join(' s before and ')} s after the farm build), through the farm (-j${r.jobs}) with two builders pinned to a core each (${r.slotsPerBuilder} slots) ${(r.farmMs / 1000).toFixed(1)} s: ${r.speedup.toFixed(2)}x, where a plain -j2 on both cores gives ${r.twoCoreSpeedup.toFixed(2)}x (${r.remote?.compiles ?? 0} of ${r.misses} misses remote, ${fb}; builders busy ${r.builders.map((b) => `${(100 * b.busyFraction).toFixed(0)} %`).join(' and ')}; ${builderSideText(r.builderSide)}; client CPU ${(r.clientCpuMs.buildTree / 1000).toFixed(1)} s build tree, ${((r.clientCpuMs.daemon ?? 0) / 1000).toFixed(1)} s daemon).`);
  }
  return L.join('\n') + '\n';
}

export async function farmBench(options = {}) {
  const o = { quick: false, work: path.join(REPO, '.bench-work', 'farm'), log: (...a) => process.stderr.write(`[bench farm] ${a.join(' ')}\n`), ...options };
  o.runs ??= o.quick ? 3 : 7;
  o.units ??= o.quick ? 40 : 120;
  o.project ??= 'generated';
  if (!['generated', 'generated-heavy', 'yaml-cpp'].includes(o.project)) throw new Error(`--project: generated, generated-heavy or yaml-cpp, not ${o.project}`);
  o.reps ??= o.quick ? 1 : 2;
  o.slots ??= 2;
  o.jobs ??= 8;
  o.fixtures ??= path.join(REPO, '.fixtures');
  if (!fs.existsSync(DIST)) throw new Error(`${DIST} is missing: run npm run build first`);
  fs.mkdirSync(o.work, { recursive: true });
  return [...(o.only === 'build' ? [] : await costScenario(o)), ...(o.only === 'cost' ? [] : await buildScenario(o))];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = Object.fromEntries(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k, v ?? true]; }));
  const rows = await farmBench({ quick: args.quick === true, ...(args.only ? { only: args.only } : {}), ...(args.runs ? { runs: Number(args.runs) } : {}), ...(args.units ? { units: Number(args.units) } : {}), ...(args.project ? { project: args.project } : {}), ...(args.reps ? { reps: Number(args.reps) } : {}), ...(args.slots ? { slots: Number(args.slots) } : {}), ...(args.running ? { running: Number(args.running) } : {}), ...(args.jobs ? { jobs: Number(args.jobs) } : {}), ...(args.fixtures ? { fixtures: path.resolve(args.fixtures) } : {}), ...(args.work ? { work: path.resolve(args.work) } : {}), ...(args['daemon-preload'] ? { daemonProfile: path.resolve(args['daemon-preload']) } : {}) });
  const out = args.json ? path.resolve(args.json) : null;
  if (out) fs.writeFileSync(out, JSON.stringify(rows, null, 2));
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
}
