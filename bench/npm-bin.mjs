#!/usr/bin/env node
// A warm hit through the command a user types after `npm i -D @reprise/core
// @reprise/plugin-gcc`, against the native client alone and ccache, in one run.
// The release tarballs (scripts/pack-release.mjs, this machine's platform only)
// are installed by real npm into two fresh projects: one with install scripts
// (`node_modules/.bin/reprise` is then the native executable itself) and one
// with --ignore-scripts (the sh launcher, which runs the platform package's
// prebuilt). Calls alternate tool by tool, the order rotated each round, so
// machine load hits them alike; ratios are of medians from the same rounds.
//
//   node bench/npm-bin.mjs [--quick] [--rounds=N] [--work=DIR] [--json=PATH]
//
// As a module: npmBinBench({ quick, rounds, work, log }) → { rows, ratios, meta };
//   npmBinMarkdown(result) → markdown.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = path.join(REPO, 'test-fixtures', 'bench', 'small.cpp');
const COMPILE = ['g++', '-std=c++17', '-O2', '-c', 'small.cpp', '-o', 'small.o'];

function baseEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CCACHE_|SCCACHE_|REPRISE_)/.test(k) && !['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL'].includes(k)));
}

function run(argv, { env = {}, cwd, timeoutMs = 300_000 } = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env: { ...baseEnv(), ...env }, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.error?.message ?? `exit ${r.status}`}\n${r.stderr}`);
  return r.stdout;
}

function fresh(p) {
  fs.rmSync(p, { recursive: true, force: true });
  fs.mkdirSync(p, { recursive: true, mode: 0o700 });
  return p;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function installProject(dir, tarballs, flags) {
  fresh(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "bench-npm-bin", "private": true }\n');
  run(['npm', 'install', '--save-dev', '--no-audit', '--no-fund', ...flags, ...tarballs], { cwd: dir });
  fs.copyFileSync(SOURCE, path.join(dir, 'small.cpp'));
}

/** One call's wall time in ms (spawned from node: the `/bin/true` row is that floor). */
function timeCall(argv, env, cwd) {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env: { ...baseEnv(), ...env }, stdio: 'ignore', timeout: 60_000 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.error || r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.error?.message ?? `exit ${r.status}`}`);
  return ms;
}

export async function npmBinBench({ quick = false, rounds, work = path.join(REPO, '.bench-work', 'npm-bin'), log = () => {} } = {}) {
  const n = rounds ?? (quick ? 20 : 100);
  fresh(work);
  log('packing the release (this platform) and installing it into two fresh projects');
  const tarballs = JSON.parse(run([process.execPath, path.join(REPO, 'scripts', 'pack-release.mjs'), '--out', path.join(work, 'tarballs'), '--packages', 'core,plugin-gcc', '--targets', `${process.platform}-${process.arch}`]));
  const files = Object.values(tarballs);
  const withScripts = path.join(work, 'project');
  const ignored = path.join(work, 'project-ignore-scripts');
  installProject(withScripts, files, []);
  installProject(ignored, files, ['--ignore-scripts']);
  const installed = path.join(withScripts, 'node_modules', '.bin', 'reprise');
  const prebuilt = path.join(withScripts, 'node_modules', '@reprise', `client-${process.platform}-${process.arch}`, 'bin', 'reprise');
  const launcher = path.join(ignored, 'node_modules', '.bin', 'reprise');
  const isElf = fs.readFileSync(fs.realpathSync(installed)).subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));

  const repriseEnv = { REPRISE_DIR: fresh(path.join(work, 'reprise-cache')), REPRISE_RUNTIME_DIR: fresh(path.join(work, 'rt')) };
  const tools = [
    { name: 'node_modules/.bin/reprise', argv: [installed, ...COMPILE], env: repriseEnv, cwd: withScripts },
    { name: 'native client alone (platform package binary)', argv: [prebuilt, ...COMPILE], env: repriseEnv, cwd: withScripts },
    { name: '.bin/reprise after --ignore-scripts (sh launcher)', argv: [launcher, ...COMPILE], env: repriseEnv, cwd: withScripts },
  ];
  const ccache = which('ccache');
  if (ccache) tools.push({ name: 'ccache', argv: [ccache, ...COMPILE], env: { CCACHE_DIR: fresh(path.join(work, 'ccache')) }, cwd: withScripts });
  tools.push({ name: '_noise: /bin/true_', argv: ['/bin/true'], env: {}, cwd: withScripts });

  // Warm: the first call of each fills its cache (and starts the daemon), the next ones are hits.
  for (const t of tools) for (let i = 0; i < 3; i++) timeCall(t.argv, t.env, t.cwd);
  run([installed, '--zero-stats'], { env: repriseEnv, cwd: withScripts });
  if (ccache) run([ccache, '-z'], { env: tools.find((t) => t.name === 'ccache').env });

  const samples = new Map(tools.map((t) => [t.name, []]));
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < tools.length; i++) {
      const t = tools[(i + r) % tools.length];
      samples.get(t.name).push(timeCall(t.argv, t.env, t.cwd));
    }
  }
  const stats = JSON.parse(run([installed, '--show-stats', '--json'], { env: repriseEnv, cwd: withScripts })).stats;
  run([installed, '--stop-server'], { env: repriseEnv, cwd: withScripts });
  const ccacheHits = ccache
    ? Object.fromEntries(run([ccache, '--print-stats'], { env: tools.find((t) => t.name === 'ccache').env }).trim().split('\n').map((l) => l.split('\t')))
    : null;

  const rows = tools.map((t) => {
    const s = samples.get(t.name);
    return { tool: t.name, calls: s.length, minMs: Math.min(...s), medianMs: median(s), maxMs: Math.max(...s) };
  });
  const med = (name) => rows.find((r) => r.tool === name)?.medianMs ?? null;
  const ratio = (a, b) => (med(a) != null && med(b) ? med(a) / med(b) : null);
  return {
    rows,
    ratios: {
      installedToNative: ratio(tools[0].name, tools[1].name),
      installedToCcache: ratio(tools[0].name, 'ccache'),
      nativeToCcache: ratio(tools[1].name, 'ccache'),
      launcherToNative: ratio(tools[2].name, tools[1].name),
    },
    meta: {
      rounds: n,
      installedIsElf: isElf,
      repriseHits: stats.hitsDirect + stats.hitsPreprocessor,
      repriseCalls: stats.calls,
      ccacheHits: ccacheHits ? Number(ccacheHits.direct_cache_hit ?? 0) + Number(ccacheHits.preprocessed_cache_hit ?? 0) : null,
      loadavg: os.loadavg(),
    },
  };
}

export function npmBinMarkdown(r) {
  const f = (x) => (x == null ? '–' : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const L = [`## Hit through the installed command after an npm install: \`g++ -std=c++17 -O2 -c small.cpp\` (ms; ${r.meta.rounds} rounds, alternating call by call)`, ''];
  L.push('| command | calls | min | median | max |', '|---|---:|---:|---:|---:|');
  for (const row of r.rows) L.push(`| ${row.tool} | ${row.calls} | ${f(row.minMs)} | ${f(row.medianMs)} | ${f(row.maxMs)} |`);
  L.push('');
  L.push(`Ratios of medians: .bin/reprise / native alone ${f(r.ratios.installedToNative)}×; .bin/reprise / ccache ${f(r.ratios.installedToCcache)}×; native alone / ccache ${f(r.ratios.nativeToCcache)}×; sh launcher / native alone ${f(r.ratios.launcherToNative)}×.`);
  L.push(`\`node_modules/.bin/reprise\` is ${r.meta.installedIsElf ? 'the native ELF executable' : 'NOT an ELF executable'}; Reprise hits ${r.meta.repriseHits} of ${r.meta.repriseCalls} timed calls; ccache hits ${r.meta.ccacheHits ?? '–'}. Times include spawning from node (see the /bin/true row). Load average at the end ${r.meta.loadavg.map((x) => x.toFixed(2)).join(' ')}.`);
  return `${L.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (k) => process.argv.find((a) => a.startsWith(`${k}=`))?.slice(k.length + 1);
  const result = await npmBinBench({
    quick: process.argv.includes('--quick'),
    rounds: arg('--rounds') ? Number(arg('--rounds')) : undefined,
    work: arg('--work') ? path.resolve(arg('--work')) : undefined,
    log: (...a) => process.stderr.write(`[npm-bin] ${a.join(' ')}\n`),
  });
  process.stdout.write(npmBinMarkdown(result));
  if (arg('--json')) fs.writeFileSync(path.resolve(arg('--json')), `${JSON.stringify(result, null, 2)}\n`);
}
