#!/usr/bin/env node
// Cargo sharing between checkouts: test-fixtures/rust-workspace checked out at two paths of
// different lengths, built with RUSTFLAGS=--remap-path-prefix=<checkout>=/src and
// REPRISE_BASEDIRS naming both. Timed, each a `cargo clean && cargo build` (only the build timed):
//   plain        the second checkout without a cache (median of --reps builds before Reprise's and one after);
//   first        Reprise, cold cache, in the first checkout (fills the cache);
//   second       Reprise in the second checkout with the first one's entries present;
//   second warm  the second checkout again (its own entries too).
//
//   node bench/rust-checkouts.mjs [--reps=N] [--jobs=2] [--work=DIR] [--json=PATH]
//
// As a module: runRustCheckoutsBench({ reps, jobs, work, log }) → { rows, markdown, meta }.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findCargo, fresh, median, Reprise, run } from './rust.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SETUP = path.join(REPO, 'scripts', 'setup-rust-fixtures.sh');

export async function runRustCheckoutsBench(options = {}) {
  const o = { reps: 1, jobs: 2, work: path.join(REPO, '.bench-work', 'rust-checkouts'), log: (...a) => process.stderr.write(`[bench rust-checkouts] ${a.join(' ')}\n`), ...options };
  fresh(o.work);
  const logFile = path.join(o.work, 'builds.log');
  const cargo = findCargo();
  if (!cargo) throw new Error('cargo not found (PATH or ~/.cargo/bin)');
  const checkouts = [path.join(o.work, 'a', 'proj'), path.join(o.work, 'builds', 'second-checkout', 'proj')];
  for (const c of checkouts) {
    const setup = run(['bash', SETUP, c], { log: logFile });
    if (setup.error) throw new Error(`${SETUP}: ${setup.error}\n${setup.stderr}`);
  }
  const cargoEnv = {
    PATH: `${path.dirname(cargo)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    CARGO_HOME: fresh(path.join(o.work, 'cargo-home')),
    CARGO_BUILD_JOBS: String(o.jobs),
    CARGO_INCREMENTAL: '0',
    CARGO_TERM_COLOR: 'never',
  };
  const reprise = new Reprise('reprise', o.work, false);
  if (!reprise.available) throw new Error(`reprise ${reprise.reason}`);

  const build = (checkout, tool) => {
    const env = { ...cargoEnv, RUSTFLAGS: `--remap-path-prefix=${checkout}=/src`, ...(tool ? { ...tool.env, RUSTC_WRAPPER: tool.wrapper, REPRISE_BASEDIRS: checkouts.join(':') } : {}) };
    const clean = run([cargo, 'clean', '-q'], { env, cwd: checkout, log: logFile });
    if (clean.error) throw new Error(`cargo clean: ${clean.error}`);
    tool?.zeroStats();
    const r = run([cargo, 'build'], { env, cwd: checkout, log: logFile, timeoutMs: 1_200_000 });
    if (r.error) throw new Error(`cargo build in ${checkout}: ${r.error}; see ${logFile}`);
    return { ms: r.ms, stats: tool?.stats() ?? null };
  };

  const [first, second] = checkouts;
  o.log('warm-up build');
  build(second, null);
  const plain = [];
  const rows = [];
  const add = (phase, res) => {
    o.log(`${phase}: ${(res.ms / 1000).toFixed(1)} s${res.stats ? ` (hits ${res.stats.hits}, misses ${res.stats.misses})` : ''}`);
    rows.push({ phase, ms: res.ms, hits: res.stats?.hits ?? null, misses: res.stats?.misses ?? null, notCacheable: res.stats?.notCacheable ?? null });
  };
  // Plain builds before and after Reprise's (the machine's load drifts): their median is the baseline.
  const plainBuild = () => {
    const ms = build(second, null).ms;
    o.log(`plain, second checkout: ${(ms / 1000).toFixed(1)} s`);
    plain.push(ms);
  };
  try {
    for (let i = 0; i < o.reps; i++) plainBuild();
    await reprise.reset();
    add('reprise, first checkout, cold cache', build(first, reprise));
    add("reprise, second checkout, the first one's entries", build(second, reprise));
    add('reprise, second checkout, warm', build(second, reprise));
  } finally {
    reprise.stop();
  }
  plainBuild();
  const base = median(plain);
  rows.unshift({ phase: 'plain, second checkout', ms: base, hits: null, misses: null, notCacheable: null });
  for (const r of rows) r.ratio = r.ms / base;
  const meta = { cargo: run([cargo, '--version'], { env: cargoEnv }).stdout.trim(), jobs: o.jobs, plainBuilds: plain.length };
  const markdown = [
    `### Rust: a second checkout's clean \`cargo build\` with the first checkout's entries (${meta.cargo}, -j${o.jobs}, remapped, baseDirs)`,
    '',
    `Plain: median of ${plain.length} builds (${plain.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s).`,
    '',
    '| build | wall s | × plain | cache |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.phase} | ${(r.ms / 1000).toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.hits == null ? '—' : `${r.hits} hits, ${r.misses} misses`} |`),
    '',
  ].join('\n');
  return { rows, markdown, meta };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const o = {};
  for (const a of process.argv.slice(2)) {
    const [k, v] = a.split('=');
    if (k === '--reps') o.reps = Number(v);
    else if (k === '--jobs') o.jobs = Number(v);
    else if (k === '--work') o.work = path.resolve(v);
    else if (k === '--json') o.json = path.resolve(v);
    else {
      process.stderr.write(`bench/rust-checkouts.mjs: unknown option ${a}\n`);
      process.exit(2);
    }
  }
  const result = await runRustCheckoutsBench(o);
  process.stdout.write(result.markdown);
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ meta: result.meta, rows: result.rows }, null, 2) + '\n');
}
