#!/usr/bin/env node
// Build-farm benchmark, on loopback with real processes: the real scheduler (`reprise-dist scheduler`),
// bwrap builders (`reprise-dist builder`) and a client daemon sending every miss to the farm.
//
//   node bench/farm.mjs [--quick] [--only=cost|build] [--runs=N] [--units=N] [--work=DIR] [--json=PATH] [--daemon-preload=FILE]
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
//   build  a clean make -j8 of the generated tree (bench/generated-tree.mjs) through the farm with two
//          builders, each pinned to its own core (taskset), two job slots each, against a plain make -j1 pinned
//          to one core: ratio of wall times (the goal: >= 1.8x faster on a CPU-bound project).
//
// Every child has a timeout; every process started here is stopped at the end.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeneratedTree } from './generated-tree.mjs';

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
      if (m) { clearTimeout(timer); resolve({ child, url: m[1] }); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${label} exited (${code}): ${out}`)); });
  });
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); setTimeout(() => child.kill('SIGKILL'), 10_000).unref(); });
}

/** A scheduler and `n` builders (of the checkout `repo`); builder i pinned to core i when `pin`. */
export async function startFarm(dir, n, { pin = false, maxJobs = 2, repo = REPO } = {}) {
  const DIST = distBin(repo);
  fs.mkdirSync(dir, { recursive: true });
  const clientToken = `bench-client-${process.pid}-${Date.now()}`;
  const builderToken = `bench-builder-${process.pid}-${Date.now()}`;
  const schedConfig = path.join(dir, 'scheduler.json');
  fs.writeFileSync(schedConfig, JSON.stringify({ listen: '127.0.0.1:0', auth: { clientTokens: [clientToken], builderTokens: [builderToken] }, heartbeatIntervalMs: 1000 }));
  const procs = [];
  const sched = await startListening([process.execPath, DIST, 'scheduler', '--config', schedConfig], {}, 'scheduler');
  procs.push(sched.child);
  for (let i = 0; i < n; i++) {
    const cfg = path.join(dir, `builder${i}.json`);
    fs.writeFileSync(cfg, JSON.stringify({ schedulerUrl: sched.url, token: builderToken, builderId: `bench-${i}`, listen: { host: '127.0.0.1', port: 0 }, dataDir: path.join(dir, `b${i}`), sandbox: 'bwrap', maxJobs, yieldAboveLoad: 1e6, logLevel: 'warn' }));
    const argv = [...(pin ? ['taskset', '-c', String(i)] : []), process.execPath, DIST, 'builder', '--config', cfg];
    const b = await startListening(argv, {}, `builder ${i}`);
    procs.push(b.child);
  }
  return { url: sched.url, clientToken, stop: () => Promise.all(procs.map(stop)) };
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
function processCpuMs(pid, { children = false } = {}) {
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

async function buildScenario(o) {
  const dir = path.join(o.work, 'build');
  fs.rmSync(dir, { recursive: true, force: true });
  const tree = path.join(dir, 'tree');
  writeGeneratedTree(tree, o.units);
  const local = run(['taskset', '-c', '0', 'make', '-j1'], { cwd: tree });
  if (local.error) throw new Error(`plain build: ${local.error}`);
  run(['make', 'clean'], { cwd: tree });
  // Two jobs per builder on its one core: with one, a make -j8 on a loaded machine outwaits the scheduler's queue.
  const farm = await startFarm(path.join(dir, 'farm'), 2, { pin: true, maxJobs: 2 });
  try {
    const reprise = { REPRISE_DIR: path.join(dir, 'cache'), REPRISE_RUNTIME_DIR: path.join(dir, 'run'), REPRISE_IDLE_TIMEOUT: '300', LC_ALL: 'C', REPRISE_DIST_SCHEDULER_URL: farm.url, REPRISE_DIST_TOKEN: farm.clientToken, REPRISE_DIST_MODE: 'always' };
    // Warm-up in another directory: packages the toolchains and puts them and the system headers on both builders.
    const cc = client().join(' ');
    for (const w of ['warm1', 'warm2']) {
      const warm = path.join(dir, w);
      writeGeneratedTree(warm, 8);
      run(['make', '-j8', `CC=${cc} gcc`, `CXX=${cc} g++`], { cwd: warm, env: reprise });
    }
    run([...client(), '--zero-stats'], { env: reprise, cwd: dir });
    const f = run(['make', '-j8', `CC=${cc} gcc`, `CXX=${cc} g++`], { cwd: tree, env: reprise });
    if (f.error) throw new Error(`farm build: ${f.error}`);
    const s = JSON.parse(run([...client(), '--show-stats', '--json'], { env: reprise, cwd: dir }).stdout).stats;
    run([...client(), '--stop-server'], { env: reprise, cwd: dir });
    const row = { scenario: 'build', units: o.units, localOneCoreMs: local.ms, farmTwoBuildersMs: f.ms, speedup: local.ms / f.ms, remote: s.remote?.farm ?? null, misses: s.misses, fallbacks: s.fallbacks };
    o.log(`generated ${o.units} units: plain make -j1 on one core ${(local.ms / 1000).toFixed(1)} s, farm with two pinned builders ${(f.ms / 1000).toFixed(1)} s: ${row.speedup.toFixed(2)}x; ${row.remote?.compiles ?? 0} of ${s.misses} misses remote`);
    return [row];
  } finally {
    await farm.stop();
  }
}

/** The rows as a Markdown section of the bench report. */
export function farmMarkdown(rows) {
  const L = ['### Build farm (bench/farm.mjs)', '', '| file | plain | bwrap here | farm | farm\'s own cost | daemon CPU / farm job | launcher CPU / farm job | daemon CPU / local miss | builder round trips / job |', '|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows.filter((x) => x.scenario === 'cost')) {
    L.push(`| ${r.file} | ${r.plainMs.toFixed(0)} ms | ${r.hermeticMs.toFixed(0)} ms | ${r.farmMs.toFixed(0)} ms | ${r.farmCostMs.toFixed(0)} ms | ${r.daemonCpuMsPerFarmJob?.toFixed(1) ?? '?'} ms | ${r.scanHelperCpuMsPerFarmJob?.toFixed(1) ?? '?'} ms | ${r.daemonCpuMsPerLocalMiss?.toFixed(1) ?? '?'} ms | ${r.builderRoundTripsPerJob?.toFixed(2) ?? '?'} |`);
  }
  for (const r of rows.filter((x) => x.scenario === 'build')) {
    L.push('', `Clean build of ${r.units} generated units: plain make -j1 on one core ${(r.localOneCoreMs / 1000).toFixed(1)} s, through the farm with two builders pinned to a core each ${(r.farmTwoBuildersMs / 1000).toFixed(1)} s: ${r.speedup.toFixed(2)}x (${r.remote?.compiles ?? 0} of ${r.misses} misses remote).`);
  }
  return L.join('\n') + '\n';
}

export async function farmBench(options = {}) {
  const o = { quick: false, work: path.join(REPO, '.bench-work', 'farm'), log: (...a) => process.stderr.write(`[bench farm] ${a.join(' ')}\n`), ...options };
  o.runs ??= o.quick ? 3 : 7;
  o.units ??= o.quick ? 40 : 120;
  if (!fs.existsSync(DIST)) throw new Error(`${DIST} is missing: run npm run build first`);
  fs.mkdirSync(o.work, { recursive: true });
  return [...(o.only === 'build' ? [] : await costScenario(o)), ...(o.only === 'cost' ? [] : await buildScenario(o))];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = Object.fromEntries(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k, v ?? true]; }));
  const rows = await farmBench({ quick: args.quick === true, ...(args.only ? { only: args.only } : {}), ...(args.runs ? { runs: Number(args.runs) } : {}), ...(args.units ? { units: Number(args.units) } : {}), ...(args.work ? { work: path.resolve(args.work) } : {}), ...(args['daemon-preload'] ? { daemonProfile: path.resolve(args['daemon-preload']) } : {}) });
  const out = args.json ? path.resolve(args.json) : null;
  if (out) fs.writeFileSync(out, JSON.stringify(rows, null, 2));
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
}
