// Profile a kept daemon over lua5.4's cold builds: CPU profile (preload) split at the build's start, its end and once idle.
// node bench/results/2026-12-07-cold-lean6-profile.mjs <checkout> <fixtures dir> <out prefix> [rounds=2]
// The daemon (started by the warm-up build) runs with the preload beside this file; each round writes <prefix>.<n>.cpuprofile and
// <prefix>.<n>.gc.json for n = 3r (before), 3r+1 (during the build), 3r+2 (after it, until idle). PROF_INTERVAL=µs (500; 0: GC entries
// only). CL6_EXPERIMENT_FLAGS (extra V8 flags for the daemon) needs the experiment's spawn-daemon.ts hook, not committed (see the results file).
// Read the profiles with 2026-12-07-cold-lean6-analyze.mjs (self and inclusive shares) or -tree.mjs (top-down).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
const [dir, fixtures, out, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 2);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cl6-prof-'));
const tree = path.join(work, 'tree'); fs.cpSync(path.join(fixtures, 'lua5.4'), tree, { recursive: true });
const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'cl6r-')); fs.chmodSync(runtime, 0o700);
const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(REPRISE_|MAKEFLAGS|MFLAGS|NODE_OPTIONS)/.test(k)));
const env = { ...base, LC_ALL: 'C', REPRISE_DIR: path.join(work, 'cache'), REPRISE_RUNTIME_DIR: runtime, REPRISE_IDLE_TIMEOUT: '900' };
const denv = { ...env, ...(process.env.CL6_EXPERIMENT_FLAGS ? { CL6_EXPERIMENT_FLAGS: process.env.CL6_EXPERIMENT_FLAGS } : {}), NODE_OPTIONS: `${process.env.EXTRA_NODE_OPTIONS ?? ""} --require ${path.resolve(path.dirname(new URL(import.meta.url).pathname), '2026-12-07-cold-lean6-preload.cjs')}`, PROF_OUT: out, PROF_INTERVAL: process.env.PROF_INTERVAL ?? '500' };
const cc = `${path.join(dir, 'packages/core/dist/native/reprise-native')} gcc -std=gnu99`;
const cli = (...a) => spawnSync(process.execPath, [path.join(dir, 'packages/core/dist/bin/reprise.js'), ...a], { env, encoding: 'utf8' });
const make = (e) => { spawnSync('make', ['clean'], { cwd: tree, env: e, stdio: 'ignore' }); const r = spawnSync('make', ['-j2', `CC=${cc}`, 'linux'], { cwd: tree, env: e, stdio: ['ignore', 'ignore', 'pipe'] }); if (r.status) throw new Error(String(r.stderr)); };
const marker = `REPRISE_RUNTIME_DIR=${runtime}`;
const daemonPid = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).find((p) => { try { return fs.readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(marker) && /node/.test(fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0')[0]) && !fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('spawn-helper'); } catch { return false; } });
const mainNs = (pid) => Number(fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
const sleep = (s) => spawnSync('sleep', [String(s)]);
make(denv); // warm-up: daemon started with the profiler
const pid = daemonPid();
const waitIdle = () => { let last = mainNs(pid); for (let i = 0; i < 300; i++) { sleep(0.5); const now = mainNs(pid); if (now - last < 2e6 && i >= 6) break; last = now; } };
waitIdle();
for (let r = 0; r < rounds; r++) {
  cli('--clear'); cli('--zero-stats'); sleep(0.5);
  process.kill(pid, 'SIGUSR2'); sleep(0.5); // profile 3r: before (discarded)
  const m0 = mainNs(pid);
  make(env);
  const m1 = mainNs(pid);
  process.kill(pid, 'SIGUSR2'); // profile 3r+1: during the build
  waitIdle();
  const m2 = mainNs(pid);
  process.kill(pid, 'SIGUSR2'); sleep(0.5); // profile 3r+2: after the build
  const st = JSON.parse(cli('--show-stats', '--json').stdout).stats;
  console.log(JSON.stringify({ round: r, duringMs: (m1 - m0) / 1e6, afterMs: (m2 - m1) / 1e6, misses: st.misses, load: os.loadavg()[0] }));
}
cli('--stop-server');
fs.rmSync(work, { recursive: true, force: true }); fs.rmSync(runtime, { recursive: true, force: true });
