#!/usr/bin/env node
// Hermetic-mode benchmark: what a cache miss costs when it is compiled from the packaged toolchain
// inside a sandbox (REPRISE_HERMETIC=bwrap|docker), as a ratio to a plain compile, and what
// packaging a toolchain costs, cold and warm.
//
//   node bench/hermetic.mjs [--quick] [--runs=N] [--sandboxes=bwrap,docker] [--work=DIR] [--json=PATH]
//
// Scenarios
//   miss       g++ -std=c++17 -O2 -g -c of test-fixtures/bench/small.cpp, every timed call a real miss
//              (each run compiles its own copy with a nonce declaration appended). Tools: plain g++,
//              reprise (ordinary miss), reprise-hermetic-<sandbox> for each sandbox. All Reprise
//              tools share one daemon and cache dir; hermetic mode is chosen per call
//              (REPRISE_HERMETIC). One untimed warm-up call per tool starts the daemon, packages
//              and unpacks the toolchain and, for docker, imports its image: its time is reported
//              as the "first miss" row. Timed runs are interleaved across tools. Ratio = median /
//              plain median. Calls go through the native client when it is built.
//   toolchain  the g++ toolchain (and clang's unless --quick) through ToolchainCache, as the daemon
//              does it: cold = package (collect, deterministic tar.gz) into an empty cache dir;
//              unpack = first prepare (unpack into the toolchain store); warm = prepare again in the
//              same process (a few dozen lstat calls); new process = prepare from a fresh
//              ToolchainCache on the same dir (reads the kept record, checks the files).
//
// docker runs through podman with runc (../shared/notes/containers-here.md); a sandbox that is not
// usable here gives a row with its error, not a failure.
//
// As a module: `import { hermeticBench, hermeticMarkdown } from './hermetic.mjs'`;
// `await hermeticBench({ quick, log })` → rows
//   { scenario: 'miss', tool, phase: 'miss'|'first miss', ms (median), ratio (× plain), min, minRatio (fastest
//     run × fastest plain run), max, runs, hermetic, fallbacks, error? }
//   { scenario: 'toolchain', tool: 'g++'|'clang', phase: 'cold'|'unpack'|'warm'|'new process', ms, archiveBytes, unpackedBytes }

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NATIVE = path.join(REPO, 'packages', 'core', 'dist', 'native', 'reprise-native');
const NODE_CLIENT = path.join(REPO, 'packages', 'core', 'dist', 'bin', 'reprise.js');
const CORE = path.join(REPO, 'packages', 'core', 'dist', 'index.js');
const SMALL = path.join(REPO, 'test-fixtures', 'bench', 'small.cpp');
const CXX_ARGS = ['g++', '-std=c++17', '-O2', '-g'];
const SANDBOX_OPTIONS = { docker: { engine: 'podman', runtime: 'runc' } };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};

function baseEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CCACHE_|SCCACHE_|REPRISE_)/.test(k) && !['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL'].includes(k)));
}

function run(argv, { env = {}, cwd, timeoutMs = 600_000 } = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env: { ...baseEnv(), ...env }, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  let error = null;
  if (r.error) error = r.error.code === 'ETIMEDOUT' ? `timed out after ${timeoutMs} ms` : String(r.error.message);
  else if (r.status !== 0) error = `exit ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}`;
  return { ms, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error };
}

function fresh(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Runs both scenarios and returns their rows (see the header). Throws only when the work directory
 * cannot be set up or Reprise is not built.
 */
export async function hermeticBench(options = {}) {
  const o = {
    quick: false,
    sandboxes: ['bwrap', 'docker'],
    work: path.join(REPO, '.bench-work', 'hermetic'),
    log: (...a) => process.stderr.write(`[bench hermetic] ${a.join(' ')}\n`),
    ...options,
  };
  o.runs ??= o.quick ? 3 : 7;
  if (!fs.existsSync(CORE)) throw new Error(`${CORE} is missing: run npm run build first`);
  fs.mkdirSync(o.work, { recursive: true });
  const rows = [...(await missScenario(o)), ...(await toolchainScenario(o))];
  return rows;
}

async function missScenario(o) {
  const dir = fresh(path.join(o.work, 'miss'));
  const client = fs.existsSync(NATIVE) ? [NATIVE] : [process.execPath, NODE_CLIENT];
  const reprise = { REPRISE_DIR: path.join(dir, 'cache'), REPRISE_RUNTIME_DIR: path.join(dir, 'run'), REPRISE_IDLE_TIMEOUT: '300', LC_ALL: 'C' };
  const tools = [
    { name: 'plain', prefix: [], env: { LC_ALL: 'C' } },
    { name: 'reprise', prefix: client, env: reprise },
    ...o.sandboxes.map((s) => ({ name: `reprise-hermetic-${s}`, sandbox: s, prefix: client, env: { ...reprise, REPRISE_HERMETIC: s } })),
  ];
  const small = fs.readFileSync(SMALL, 'utf8');
  const nonce = `${process.pid}_${Date.now().toString(36)}`;
  for (const t of tools) {
    t.dir = path.join(dir, t.name);
    fs.mkdirSync(t.dir, { recursive: true });
    fs.writeFileSync(path.join(t.dir, '.repriserc.json'), JSON.stringify({ sandboxOptions: SANDBOX_OPTIONS }));
    for (let i = 0; i <= o.runs; i++) fs.writeFileSync(path.join(t.dir, `m${i}.cpp`), `${small}\nextern const char reprise_hermetic_nonce_${t.name.replace(/\W/g, '_')}_${i}_${nonce}[];\n`);
    t.samples = [];
  }
  await new Promise((r) => setTimeout(r, 2100)); // sources older than the hash cache's 2 s window
  const argv = (t, i) => [...t.prefix, ...CXX_ARGS, '-c', `m${i}.cpp`, '-o', `m${i}.o`];
  const stats = () => {
    const r = run([...client, '--show-stats', '--json'], { env: reprise, cwd: dir });
    return r.error ? null : JSON.parse(r.stdout).stats;
  };
  const rows = [];
  for (const t of tools) {
    o.log(`${t.name}: warm-up (first miss${t.sandbox ? ': packages the toolchain' + (t.sandbox === 'docker' ? ', imports the image' : '') : ''})`);
    const before = t.prefix.length ? stats() : null;
    const r = run(argv(t, 0), { env: t.env, cwd: t.dir });
    if (r.error) t.error = r.error;
    if (t.sandbox) {
      const after = stats();
      const compiled = (after?.hermetic?.[t.sandbox] ?? 0) - (before?.hermetic?.[t.sandbox] ?? 0);
      if (!t.error && compiled !== 1) t.error = `not compiled in ${t.sandbox}: ${JSON.stringify(after?.fallbacks ?? {})} (see ${path.join(dir, 'run', 'daemon.log')})`;
    }
    if (t.prefix.length) rows.push({ scenario: 'miss', tool: t.name, phase: 'first miss', ms: r.ms, ratio: null, runs: 1, ...(t.error ? { error: t.error } : {}) });
    if (t.error) o.log(`  ${t.name}: ${t.error}`);
  }
  run([...client, '--zero-stats'], { env: reprise, cwd: dir });
  for (let i = 1; i <= o.runs; i++) {
    for (const t of tools) {
      if (t.error) continue;
      const r = run(argv(t, i), { env: t.env, cwd: t.dir });
      if (r.error) t.error = r.error;
      else t.samples.push(r.ms);
    }
  }
  const s = stats();
  run([...client, '--stop-server'], { env: reprise, cwd: dir });
  const plain = median(tools[0].samples);
  const plainMin = tools[0].samples.length ? Math.min(...tools[0].samples) : null;
  for (const t of tools) {
    const ms = median(t.samples);
    const min = t.samples.length ? Math.min(...t.samples) : null;
    const row = {
      scenario: 'miss', tool: t.name, phase: 'miss', ms, ratio: ms != null && plain ? ms / plain : null,
      // On a shared machine the fastest run is the one least disturbed: its ratio is the steadier one.
      min, minRatio: min != null && plainMin ? min / plainMin : null,
      max: t.samples.length ? Math.max(...t.samples) : null, runs: t.samples.length,
    };
    if (t.sandbox) row.hermetic = s?.hermetic?.[t.sandbox] ?? 0;
    if (t.prefix.length) row.fallbacks = s?.fallbacks ?? null;
    if (t.error) row.error = t.error;
    rows.push(row);
    o.log(`${t.name}: median ${ms == null ? '—' : ms.toFixed(0)} ms${row.ratio ? `, ×${row.ratio.toFixed(2)} plain` : ''}${row.minRatio ? ` (fastest runs: ×${row.minRatio.toFixed(2)})` : ''}${t.error ? ` (${t.error})` : ''}`);
  }
  return rows;
}

async function toolchainScenario(o) {
  const core = await import(pathToFileURL(CORE).href);
  const rows = [];
  const compilers = o.quick ? ['g++'] : ['g++', 'clang'];
  const setup = await core.createEngine({ cwd: o.work, env: { ...baseEnv(), LC_ALL: 'C' } });
  for (const name of compilers) {
    const path_ = core.findExecutable(name, { cwd: o.work, pathEnv: process.env.PATH ?? '/usr/bin:/bin', exclude: new Set() });
    const info = path_ ? await setup.detector.detect(path_, { PATH: process.env.PATH ?? '/usr/bin:/bin' }) : undefined;
    if (!info) {
      rows.push({ scenario: 'toolchain', tool: name, phase: 'cold', ms: null, error: `${name} not found or not recognised` });
      continue;
    }
    const dir = fresh(path.join(o.work, `toolchain-${name}`));
    const cache = new core.ToolchainCache(setup.engine, { dir });
    const time = async (f) => {
      const t = performance.now();
      const v = await f();
      return [performance.now() - t, v];
    };
    const [cold, packaged] = await time(() => cache.archive(info));
    const [unpack] = await time(() => cache.prepare(info));
    const [warm] = await time(() => cache.prepare(info));
    const [restart] = await time(() => new core.ToolchainCache(setup.engine, { dir }).prepare(info));
    const sizes = { archiveBytes: packaged.archiveBytes, unpackedBytes: packaged.unpackedBytes, entries: packaged.manifest.files.length };
    for (const [phase, ms] of [['cold', cold], ['unpack', unpack], ['warm', warm], ['new process', restart]]) rows.push({ scenario: 'toolchain', tool: name, phase, ms, ...sizes });
    o.log(`toolchain ${name}: package ${cold.toFixed(0)} ms, unpack ${unpack.toFixed(0)} ms, warm ${warm.toFixed(2)} ms, new process ${restart.toFixed(1)} ms (${(packaged.archiveBytes / 2 ** 20).toFixed(1)} MiB)`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The rows as a markdown section. */
export function hermeticMarkdown(rows) {
  const ms = (v) => (v == null ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(2));
  const miss = rows.filter((r) => r.scenario === 'miss');
  const tc = rows.filter((r) => r.scenario === 'toolchain');
  const L = [`### Hermetic mode: a miss (g++ ${CXX_ARGS.slice(1).join(' ')} of small.cpp) and toolchain packaging (${os.cpus().length} CPUs)`, ''];
  L.push('| tool | call | ms (median) | × plain | fastest ms | × plain (fastest) | runs | notes |', '|---|---|---|---|---|---|---|---|');
  const x = (v) => (v == null ? '—' : v.toFixed(2));
  for (const r of miss) {
    const notes = [r.error, r.hermetic != null ? `${r.hermetic} compiled in the sandbox` : null, r.fallbacks && Object.keys(r.fallbacks).length ? `fallbacks ${JSON.stringify(r.fallbacks)}` : null].filter(Boolean).join('; ');
    L.push(`| ${r.tool} | ${r.phase} | ${ms(r.ms)} | ${x(r.ratio)} | ${r.phase === 'miss' ? ms(r.min) : ''} | ${r.phase === 'miss' ? x(r.minRatio) : ''} | ${r.runs ?? ''} | ${notes} |`);
  }
  L.push('', '| toolchain | phase | ms | archive | unpacked |', '|---|---|---|---|---|');
  for (const r of tc) L.push(`| ${r.tool} | ${r.phase} | ${ms(r.ms)} | ${r.archiveBytes ? `${(r.archiveBytes / 2 ** 20).toFixed(1)} MiB` : '—'} | ${r.unpackedBytes ? `${(r.unpackedBytes / 2 ** 20).toFixed(1)} MiB, ${r.entries} entries` : r.error ?? '—'} |`);
  return L.join('\n') + '\n';
}

function parseCli(argv) {
  const o = {};
  for (const a of argv) {
    const [k, v] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    switch (k) {
      case '--quick': o.quick = true; break;
      case '--runs': o.runs = Number(v); break;
      case '--sandboxes': o.sandboxes = v.split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--work': o.work = path.resolve(v); break;
      case '--json': o.json = path.resolve(v); break;
      case '-h': case '--help':
        process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 32).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
        process.exit(0);
        break;
      default:
        process.stderr.write(`bench/hermetic.mjs: unknown option ${a}\n`);
        process.exit(2);
    }
  }
  if (o.runs !== undefined && !(Number.isInteger(o.runs) && o.runs > 0)) { process.stderr.write('--runs must be a positive whole number\n'); process.exit(2); }
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const cli = parseCli(process.argv.slice(2));
  const rows = await hermeticBench(cli);
  process.stdout.write(hermeticMarkdown(rows));
  if (cli.json) fs.writeFileSync(cli.json, JSON.stringify({ meta: { cpus: os.cpus().length, loadavg: os.loadavg() }, rows }, null, 2) + '\n');
}
