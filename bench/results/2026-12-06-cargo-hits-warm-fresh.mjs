#!/usr/bin/env node
// A warm `cargo build` served by a fresh daemon (entries on disk, nothing in the daemon's memory, so every
// rlib/program hit is read from the cache: the case the kernel-copied hits of format-4 entries change),
// this checkout against a baseline checkout, alternated A B A B. Each checkout has its own cache, filled
// once by a cold build; then per round and per checkout: daemon stopped, `cargo clean`, `cargo build`.
// Reports the daemon's own CPU and the build's CPU (cargo + rustc + clients + daemon) per run.
//   node bench/results/2026-12-06-cargo-hits-warm-fresh.mjs --baseline=DIR [--rounds=4] [--work=DIR]
// Reuses the workspace bench/rust.mjs set up in --work (run it first with the same --work).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findCargo, median, Reprise, run } from '../rust.mjs';

const arg = (name, dflt) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const baseline = arg('baseline');
const rounds = Number(arg('rounds', 4));
const work = arg('work', '/tmp/cargo-hits-rb');
const ws = path.join(work, 'ws');
const cargo = findCargo();
const cargoEnv = {
  PATH: `${path.dirname(cargo)}:${process.env.PATH}`,
  CARGO_HOME: path.join(work, 'cargo-home'),
  CARGO_BUILD_JOBS: '2',
  CARGO_INCREMENTAL: '0',
  CARGO_TERM_COLOR: 'never',
};
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const tools = [new Reprise('warm-fresh-new', work, false, repo), new Reprise('warm-fresh-base', work, false, baseline)];
const load = () => os.loadavg()[0].toFixed(1);

function build(t) {
  const env = { ...cargoEnv, ...t.env, RUSTC_WRAPPER: t.wrapper };
  run([cargo, 'clean', '-q'], { env, cwd: ws });
  t.zeroStats();
  const own0 = t.daemonOwnCpu();
  const r = run(['sh', '-c', `'${cargo}' build -q; s=$?; times >&2; exit $s`], { env, cwd: ws, timeoutMs: 900_000 });
  const times = [...(r.stderr.trim().split('\n').pop() ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map((x) => Number(x[1]) * 60 + Number(x[2]));
  const daemon = t.daemonOwnCpu() - own0;
  return { wall: r.ms / 1000, cpu: times[0] + times[1] + t.daemonCpu(), daemon, stats: t.stats(), ok: !r.error };
}

const rows = [];
try {
  for (const t of tools) {
    await t.reset();
    const cold = build(t);
    console.log(`${t.name} cold (fills its cache): ${cold.wall.toFixed(1)} s, load ${load()}`);
  }
  for (let i = 0; i < rounds; i++) {
    for (const t of i % 2 ? [...tools].reverse() : tools) {
      run([...t.client, '--stop-server'], { env: t.env, timeoutMs: 30_000 });
      const r = build(t);
      const row = { round: i + 1, tool: t.name, load: load(), ...r };
      rows.push(row);
      console.log(`round ${row.round} ${t.name}: wall ${r.wall.toFixed(2)} s, daemon CPU ${r.daemon.toFixed(2)} s, hits ${r.stats?.hits} misses ${r.stats?.misses}, load ${row.load}${r.ok ? '' : ' FAILED'}`);
    }
  }
} finally {
  for (const t of tools) t.stop();
}
for (const name of tools.map((t) => t.name)) {
  const d = rows.filter((r) => r.tool === name).map((r) => r.daemon);
  console.log(`${name}: daemon CPU median ${median(d).toFixed(2)} s (range ${Math.min(...d).toFixed(2)}–${Math.max(...d).toFixed(2)})`);
}
fs.writeFileSync(path.join(work, 'warm-fresh.json'), JSON.stringify(rows, null, 1));
