#!/usr/bin/env node
// A later daemon's first farm job of a compiler (farm-start, step 1): each checkout gets a loopback farm (scheduler,
// one bwrap builder) and a client cache, warmed up by one daemon (c++ packaged and probed, the builder holding the
// toolchain). Then, --pairs times, alternated A B / B A: the daemon is stopped, and a fresh one compiles a new C++
// source on the farm (a miss). Per call: its wall time (the daemon's start included), the daemon's CPU with its
// reaped children (the probe's compiles are its children), the steps of the call's "farm:" debug lines (ms after the
// call reached the daemon), and whether the probe ran.
//
//   node bench/results/2026-12-07-farm-start-later-daemon.mjs --vs=/work/wt/farm-start-base [--pairs=5]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { client, median, processCpuMs, run, startFarm } from '../farm.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k, v ?? true]; }));
if (!args.vs) throw new Error('--vs=DIR (a built checkout) is required');
const pairs = Number(args.pairs ?? 5);
const work = path.resolve(args.work ?? path.join(REPO, '.bench-work', 'farm-start-later-daemon'));
fs.rmSync(work, { recursive: true, force: true });

const daemonPid = (runtime) => {
  for (const n of fs.existsSync(runtime) ? fs.readdirSync(runtime) : []) {
    const pid = Number(/^tmp-(\d+)$/.exec(n)?.[1]);
    if (pid) { try { process.kill(pid, 0); return pid; } catch { /* gone */ } }
  }
  return undefined;
};

async function side(name, repo) {
  const dir = path.join(work, name);
  const farm = await startFarm(path.join(dir, 'farm'), 1, { repo });
  const env = { REPRISE_DIR: path.join(dir, 'cache'), REPRISE_RUNTIME_DIR: path.join(dir, 'run'), REPRISE_IDLE_TIMEOUT: '300', LC_ALL: 'C', REPRISE_LOG: 'debug', REPRISE_DIST_SCHEDULER_URL: farm.url, REPRISE_DIST_TOKEN: farm.clientToken, REPRISE_DIST_MODE: 'always' };
  const cli = client(repo);
  const src = path.join(dir, 'src');
  fs.mkdirSync(src, { recursive: true });
  let n = 0;
  const compile = () => {
    const file = path.join(src, `u${++n}.cpp`);
    fs.writeFileSync(file, `#include <vector>\n#include <string>\nint u${n}(int k) { std::vector<std::string> v(k, "x${n}"); return (int)v.size(); }\n`);
    return run([...cli, 'c++', '-O2', '-c', file, '-o', `${file}.o`], { env, cwd: src });
  };
  const w = compile();
  if (w.error) throw new Error(`${name} warm-up: ${w.error}`);
  return {
    name,
    async measure() {
      run([...cli, '--stop-server'], { env, cwd: src });
      const logPath = path.join(env.REPRISE_RUNTIME_DIR, 'daemon.log');
      const before = fs.existsSync(logPath) ? fs.statSync(logPath).size : 0;
      const load = os.loadavg()[0];
      const r = compile();
      if (r.error) throw new Error(`${name}: ${r.error}`);
      const pid = daemonPid(env.REPRISE_RUNTIME_DIR);
      const cpuMs = pid ? processCpuMs(pid, { children: true }) : null;
      const log = fs.readFileSync(logPath, 'utf8').slice(before);
      const t = (re) => { const m = new RegExp(`^(\\S+) .*${re}`, 'm').exec(log); return m ? Date.parse(m[1]) : null; };
      const call = t('\\[compile\\] \\S+: \\S*c\\+\\+ -O2 ');
      const steps = Object.fromEntries(Object.entries({ miss: 'farm: miss', toolchain: 'farm: toolchain ready', prepared: 'farm: job prepared', asked: 'farm: allocation asked', allocated: 'farm: job \\S+ allocated', result: 'farm: result of job', answered: 'farm: answered' }).map(([k, re]) => { const x = t(re); return [k, x !== null && call !== null ? x - call : null]; }));
      const probed = /farm: equivalence probe answered in (\d+) ms/.exec(log);
      return { side: name, load, wallMs: r.ms, daemonCpuMs: cpuMs, steps, probeMs: probed ? Number(probed[1]) : null, kept: /equivalence probe kept/.test(log), remote: /farm: result of job/.test(log) };
    },
    stop: async () => { run([...cli, '--stop-server'], { env, cwd: src }); await farm.stop(); },
  };
}

const a = await side('this', REPO);
const b = await side('vs', path.resolve(args.vs));
const rows = [];
try {
  for (let p = 0; p < pairs; p++) {
    for (const s of p % 2 === 0 ? [a, b] : [b, a]) {
      const row = await s.measure();
      rows.push(row);
      process.stderr.write(`[later-daemon] pair ${p + 1} ${row.side} (load ${row.load.toFixed(1)}): call ${row.wallMs.toFixed(0)} ms, daemon CPU ${row.daemonCpuMs?.toFixed(0)} ms, asked at ${row.steps.asked} ms, allocated ${row.steps.allocated} ms, answered ${row.steps.answered} ms; probe ${row.probeMs ?? '-'} ms, kept ${row.kept}, remote ${row.remote}\n`);
    }
  }
} finally {
  await a.stop();
  await b.stop();
}
for (const s of ['this', 'vs']) {
  const mine = rows.filter((r) => r.side === s);
  process.stderr.write(`[later-daemon] ${s}: medians call ${median(mine.map((r) => r.wallMs)).toFixed(0)} ms, daemon CPU ${median(mine.map((r) => r.daemonCpuMs ?? 0)).toFixed(0)} ms, asked ${median(mine.map((r) => r.steps.asked ?? 0)).toFixed(0)} ms after the call\n`);
}
if (args.json) fs.writeFileSync(path.resolve(args.json), JSON.stringify(rows, null, 2));
