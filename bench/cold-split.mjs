// Where a cold build's CPU goes with Reprise: lua5.4 (or the generated tree)
// built cold with the daemon kept up (cache emptied before each build), and
// the CPU split into the build tree (make, the native clients, links), the
// daemon's main thread, its other threads by name (V8's compile and GC
// workers, libuv's pool), the spawn helper itself and the compilers it ran,
// and the daemon's work after the build (idle). Checkouts given with --vs
// (each built) and Node binaries given with --node are measured in turn,
// order rotated each round, with a plain build in every round.
//
//   node bench/cold-split.mjs [--project=lua5.4|generated-200] [--rounds=3] [--vs=DIR]... [--node=PATH]...
//                             [--daemon=kept|fresh] [--jobs=2] [--env=NAME=VALUE]... [--variant=LABEL:NAME=VALUE]... [--fixtures=DIR]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeneratedTree } from './generated-tree.mjs';
import { median, rotatedRounds, roundRatios } from './cold-rounds.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const all = (name) => args.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const project = arg('project', 'lua5.4');
const rounds = Number(arg('rounds', 3));
const daemonMode = arg('daemon', 'kept');
const jobs = Number(arg('jobs', 2));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'reprise-cold-split-'));
const checkouts = [repo, ...all('vs').map((d) => path.resolve(d))];
const nodes = all('node').length ? all('node') : [process.execPath];

const TICK_MS = 10;
const statFields = (file) => {
  const st = fs.readFileSync(file, 'utf8');
  return st.slice(st.lastIndexOf(')') + 2).split(' ');
};
function childCpuMs() {
  const f = statFields('/proc/self/stat');
  return (+f[13] + +f[14]) * TICK_MS;
}
/** CPU (ms) by part of every live process whose environment holds `marker`. */
function parts(marker) {
  const out = {};
  const add = (k, ms) => { out[k] = (out[k] ?? 0) + ms; };
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (!fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker)) continue;
      const f = statFields(`/proc/${pid}/stat`);
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      if (cmd.includes('--spawn-helper')) {
        add('spawn helper', (+f[11] + +f[12]) * TICK_MS);
        add('compilers (under the helper)', (+f[13] + +f[14]) * TICK_MS);
        continue;
      }
      if (!/node/.test(cmd.split('\0')[0])) { add('other', (+f[11] + +f[12] + +f[13] + +f[14]) * TICK_MS); continue; }
      add('daemon children', (+f[13] + +f[14]) * TICK_MS);
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        const ns = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        add(tid === pid ? 'daemon main thread' : `daemon thread ${comm.replace(/[0-9]+$/, '')}`, ns / 1e6);
      }
    } catch { /* gone */ }
  }
  return out;
}
const diff = (a, b) => Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)]));
function run(argv, env, cwd) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${String(r.stderr).slice(-2000)}`);
  return r;
}
const shq = (s) => (/^[\w./=-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

let tree;
if (project === 'generated-200') tree = writeGeneratedTree(path.join(work, 'tree'), 200) ?? path.join(work, 'tree');
else {
  tree = path.join(work, 'tree');
  fs.cpSync(path.join(arg('fixtures', path.join(repo, '.fixtures')), project), tree, { recursive: true });
}
const make = (prefix) => (project === 'lua5.4'
  ? ['make', `-j${jobs}`, `CC=${[...prefix, 'gcc', '-std=gnu99'].map(shq).join(' ')}`, 'linux']
  : ['make', `-j${jobs}`, `CC=${[...prefix, 'gcc'].map(shq).join(' ')}`, `CXX=${[...prefix, 'g++'].map(shq).join(' ')}`]);
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(REPRISE_|MAKEFLAGS|MFLAGS)/.test(k)));
baseEnv.LC_ALL = 'C';

const tools = [{ name: 'plain', env: baseEnv, prefix: [] }];
// --variant: this checkout once more, its daemon with NAME=VALUE set (e.g. nohelper:REPRISE_SPAWN_HELPER=0), in the same rounds.
const variants = [{ label: '', set: [] }, ...all('variant').map((v) => ({ label: v.slice(0, v.indexOf(':')), set: [v.slice(v.indexOf(':') + 1)] }))];
variants.forEach((variant, vi) => checkouts.forEach((dir, ci) => nodes.forEach((node, ni) => {
  if (vi && ci) return;
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const name = `${checkouts.length > 1 ? (ci ? `vs${ci}` : 'this') : 'reprise'}${nodes.length > 1 ? `@${version}` : ''}${variant.label ? `:${variant.label}` : ''}`;
  const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'rcs-'));
  fs.chmodSync(runtime, 0o700);
  const env = { ...baseEnv, PATH: `${path.dirname(node)}:${baseEnv.PATH}`, REPRISE_DIR: path.join(work, `cache-${vi}-${ci}-${ni}`), REPRISE_RUNTIME_DIR: runtime, REPRISE_IDLE_TIMEOUT: '900' };
  // --env: set for Reprise's builds only (e.g. REPRISE_SPAWN_HELPER=0, the daemon then runs the compilers itself)
  for (const kv of [...all('env'), ...variant.set]) env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  tools.push({ name, env, dir, node, prefix: [path.join(dir, 'packages/core/dist/native/reprise-native')], marker: `REPRISE_RUNTIME_DIR=${runtime}` });
})));
const cli = (t, ...a) => spawnSync(t.node, [path.join(t.dir, 'packages/core/dist/bin/reprise.js'), ...a], { env: t.env, cwd: work, encoding: 'utf8' });

function build(t) {
  run(['make', 'clean'], t.env, tree);
  if (t.marker) {
    // fresh: the entries go too (--clear), then the daemon, so the build starts one.
    cli(t, '--clear');
    if (daemonMode === 'fresh') cli(t, '--stop-server');
    cli(t, '--zero-stats');
  }
  const c0 = childCpuMs();
  const p0 = t.marker ? parts(t.marker) : {};
  run(make(t.prefix), t.env, tree);
  const buildTree = childCpuMs() - c0;
  const p1 = t.marker ? parts(t.marker) : {};
  let stats;
  if (t.marker) {
    // The daemon's work after the answers (stores, index entries, fallback copies): wait until it stops using CPU, past
    // the daemon's 2 s idle pause (its copies start only then).
    let last = p1;
    for (let i = 0; i < 600; i++) {
      spawnSync('sleep', ['0.5']);
      const now = parts(t.marker);
      const moved = Object.values(diff(last, now)).reduce((a, b) => a + b, 0);
      last = now;
      if (moved < 5 && i >= 5) break;
    }
    stats = JSON.parse(cli(t, '--show-stats', '--json').stdout).stats;
    if (stats.hitsDirect + stats.hitsPreprocessor) throw new Error(`${t.name}: not a cold build`);
    const during = diff(p0, p1);
    const after = diff(p1, last);
    const split = { 'build tree': buildTree, ...during, 'after the build (all parts)': Object.values(after).reduce((a, b) => a + b, 0) };
    const cpu = Object.values(split).reduce((a, b) => a + b, 0);
    // The work after the build by part too (the idle copies' preprocessor runs are "compilers (under the helper)"), not in the total again.
    for (const [k, v] of Object.entries(after)) split[`after: ${k}`] = v;
    return { cpu, split, misses: stats.misses };
  }
  return { cpu: buildTree, split: { 'build tree': buildTree } };
}

for (const t of tools) build(t); // warm-up: page cache, daemons started, compilers detected
const { samples, errors } = await rotatedRounds(tools, rounds, (t) => build(t), (t, r, s) => {
  console.error(`round ${r + 1} ${t.name.padEnd(14)} cpu ${(s.cpu / 1000).toFixed(2)} s (load ${os.loadavg()[0].toFixed(1)})`);
});
for (const t of tools) {
  if (!t.marker) continue;
  cli(t, '--stop-server');
  fs.rmSync(t.env.REPRISE_RUNTIME_DIR, { recursive: true, force: true });
}
console.log(`cold ${project} build, make -j${jobs}, ${rounds} rounds after a warm-up round, daemon ${daemonMode}; CPU ms, medians; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const keys = [...new Set(tools.flatMap((t) => (samples[t.name] ?? []).flatMap((s) => Object.keys(s.split))))];
console.log(`| part | ${tools.map((t) => t.name).join(' | ')} |`);
console.log(`|---|${tools.map(() => '---:').join('|')}|`);
for (const k of keys) console.log(`| ${k} | ${tools.map((t) => { const xs = (samples[t.name] ?? []).map((s) => s.split[k] ?? 0); return xs.length ? median(xs).toFixed(0) : '–'; }).join(' | ')} |`);
console.log(`| **total** | ${tools.map((t) => (samples[t.name]?.length ? median(samples[t.name].map((s) => s.cpu)).toFixed(0) : '–')).join(' | ')} |`);
console.log(`| CPU / plain, round by round: median (min–max) | ${tools.map((t) => { const r = roundRatios(samples[t.name] ?? [], samples.plain, (s) => s.cpu); return r ? `${r.median.toFixed(3)} (${r.min.toFixed(3)}–${r.max.toFixed(3)})` : '–'; }).join(' | ')} |`);
for (const [n, e] of Object.entries(errors)) console.log(`- ${n}: ${e}`);
fs.rmSync(work, { recursive: true, force: true });
