#!/usr/bin/env node
// Remote cache levels: a warm clean rebuild served from each remote level alone (the local level
// empty) against one served from the local disk, and the same for sccache where it has the backend.
//
//   node bench/remote.mjs [--quick] [--units=N] [--reps=N] [--jobs=N] [--backends=redis,memcached,webdav,s3]
//                         [--work=DIR] [--json=PATH]
//
// Project: bench/generated-tree.mjs (`units` translation units, make -jN CC="<tool> gcc"); 200 units
// (60 with --quick). Servers are started on loopback by this script: redis-server, memcached, nginx
// with its dav module, s3rver (bench/remote-servers.mjs).
//
// Rows, per tool (reprise; sccache when it is installed with that backend):
//   local   cold build into a fresh cache (untimed), then per rep: stop the daemon/server, clean, timed
//           rebuild served from the warm local disk (daemon start included, as in the remote rows).
//   <level> cold build with the backend (untimed; stores reach the server), then per rep: a fresh
//           local cache dir and daemon/server ("another machine": nothing local), clean, timed rebuild
//           served from the backend alone.
// Ratio = median / local median of the same tool; the plain build (no cache) is measured too.
//
// As a module: `import { remoteBench, remoteMarkdown } from './remote.mjs'`.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeGeneratedTree } from './generated-tree.mjs';
import { S3_CREDENTIALS, startMemcached, startNginxDav, startRedis, startS3 } from './remote-servers.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NATIVE = path.join(REPO, 'packages', 'core', 'dist', 'native', 'reprise-native');
const NODE_CLIENT = path.join(REPO, 'packages', 'core', 'dist', 'bin', 'reprise.js');
const BUCKET = 'reprise-bench';
const BACKENDS = ['redis', 'memcached', 'webdav', 's3'];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
const shq = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function baseEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CCACHE_|SCCACHE_|REPRISE_|AWS_)/.test(k) && !['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL'].includes(k)));
}

function run(argv, { env = {}, cwd, timeoutMs = 900_000 } = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env: { ...baseEnv(), ...env }, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  let error = null;
  if (r.error) error = r.error.code === 'ETIMEDOUT' ? `timed out after ${timeoutMs} ms` : String(r.error.message);
  else if (r.status !== 0) error = `exit ${r.status ?? r.signal}: ${((r.stderr || r.stdout) ?? '').trim().split('\n').slice(-3).join(' ')}`;
  return { ms, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error };
}

function fresh(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function which(bin) {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The backend's variables for each tool (sccache's names where it has the backend). */
function backendEnv(name, server) {
  switch (name) {
    case 'redis': return { reprise: { REPRISE_REDIS_ENDPOINT: server.endpoint }, sccache: { SCCACHE_REDIS: server.endpoint, SCCACHE_REDIS_ENDPOINT: server.endpoint } };
    case 'memcached': return { reprise: { REPRISE_MEMCACHED_ENDPOINT: server.endpoint }, sccache: { SCCACHE_MEMCACHED: `tcp://${server.endpoint}`, SCCACHE_MEMCACHED_ENDPOINT: `tcp://${server.endpoint}` } };
    case 'webdav': return { reprise: { REPRISE_WEBDAV_ENDPOINT: server.endpoint }, sccache: { SCCACHE_WEBDAV_ENDPOINT: server.endpoint } };
    case 's3': {
      const s3 = { REPRISE_BUCKET: BUCKET, REPRISE_ENDPOINT: server.endpoint, REPRISE_S3_USE_SSL: 'false', ...S3_CREDENTIALS };
      const sc = { SCCACHE_BUCKET: BUCKET, SCCACHE_ENDPOINT: server.endpoint.replace(/^http:\/\//, ''), SCCACHE_S3_USE_SSL: 'false', SCCACHE_REGION: 'us-east-1', ...S3_CREDENTIALS };
      return { reprise: s3, sccache: sc };
    }
    default: throw new Error(`unknown backend ${name}`);
  }
}

function startServer(name) {
  return { redis: startRedis, memcached: startMemcached, webdav: startNginxDav, s3: () => startS3(BUCKET) }[name]();
}

/** A cache tool as this bench drives it: a fresh "machine" (cache dir + daemon/server) per call of `machine`. */
function repriseTool(work) {
  const client = fs.existsSync(NATIVE) ? [NATIVE] : [process.execPath, NODE_CLIENT];
  let n = 0;
  return {
    name: 'reprise',
    prefix: client,
    machine(extra, cacheDir) {
      const rt = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-'));
      const env = { REPRISE_DIR: cacheDir ?? fresh(path.join(work, `reprise-cache-${++n}`)), REPRISE_RUNTIME_DIR: rt, REPRISE_IDLE_TIMEOUT: '300', ...extra };
      return {
        env,
        stop: () => { run([...client, '--stop-server'], { env }); fs.rmSync(rt, { recursive: true, force: true }); },
        stats: () => { const r = run([...client, '--show-stats', '--json'], { env }); return r.error ? null : JSON.parse(r.stdout); },
      };
    },
    summary(stats) {
      if (!stats) return 'no stats';
      const s = stats.stats;
      const levels = stats.storages.find((x) => x.levels)?.levels ?? [];
      const remote = levels.filter((l) => l.kind !== 'local').map((l) => `${l.kind} ${l.hits} hits/${l.errors} errors, p50 ${l.latencyMedianMs} ms, p99 ${l.latencyP99Ms} ms`);
      return [`hits ${s.hitsDirect + s.hitsPreprocessor}, misses ${s.misses}`, ...remote].join('; ');
    },
  };
}

function sccacheTool(work, bin) {
  let n = 0;
  return {
    name: 'sccache',
    prefix: [bin],
    async machineAsync(extra, cacheDir) {
      const port = await freePort();
      const env = { SCCACHE_DIR: cacheDir ?? fresh(path.join(work, `sccache-cache-${++n}`)), SCCACHE_SERVER_PORT: String(port), SCCACHE_IDLE_TIMEOUT: '900', ...extra };
      const r = run([bin, '--start-server'], { env, timeoutMs: 30_000 });
      if (r.error) throw new Error(`sccache --start-server: ${(r.stderr || r.error).trim().split('\n').pop()}`);
      return {
        env,
        stop: () => run([bin, '--stop-server'], { env, timeoutMs: 30_000 }),
        stats: () => { const s = run([bin, '--show-stats'], { env }); return s.error ? null : s.stdout; },
      };
    },
    summary(stats) {
      if (!stats) return 'no stats';
      const pick = (re) => (stats.match(re)?.[1] ?? '?').trim();
      return `hits ${pick(/^Cache hits\s+(\d+)/m)}, misses ${pick(/^Cache misses\s+(\d+)/m)}; ${pick(/^Cache location\s+(.*)$/m)}`;
    },
  };
}

/** Runs every row; returns { rows, notes }. */
export async function remoteBench(options = {}) {
  const o = { quick: false, jobs: 2, backends: BACKENDS, work: path.join(REPO, '.bench-work', 'remote'), log: (...a) => process.stderr.write(`[bench remote] ${a.join(' ')}\n`), ...options };
  o.units ??= o.quick ? 60 : 200;
  o.reps ??= o.quick ? 1 : 3;
  if (!fs.existsSync(NODE_CLIENT)) throw new Error(`${NODE_CLIENT} is missing: run npm run build first`);
  fs.mkdirSync(o.work, { recursive: true });
  const tree = writeGeneratedTree(fresh(path.join(o.work, 'tree')), o.units);
  const build = (prefix) => ['make', `-j${o.jobs}`, `CC=${[...prefix, 'gcc'].map(shq).join(' ')}`, `CXX=${[...prefix, 'g++'].map(shq).join(' ')}`];
  const clean = () => run(['make', 'clean'], { cwd: tree });
  const rows = [];
  const notes = [];

  const plain = [];
  for (let i = 0; i < o.reps; i++) {
    clean();
    const r = run(build([]), { cwd: tree });
    if (r.error) throw new Error(`plain build failed: ${r.error}`);
    plain.push(r.ms);
  }
  rows.push({ tool: 'plain', level: 'none', ms: median(plain), runs: plain.length });
  o.log(`plain build of ${o.units} units: ${median(plain).toFixed(0)} ms`);

  const sccacheBin = which('sccache');
  const tools = [repriseTool(o.work)];
  if (sccacheBin) tools.push(sccacheTool(o.work, sccacheBin));
  else notes.push('sccache: not installed (Debian 12: apt-get install sccache); its column is skipped.');

  for (const tool of tools) {
    const machine = async (extra, dir) => (tool.machineAsync ? tool.machineAsync(extra, dir) : tool.machine(extra, dir));
    // local: warm local disk, fresh daemon per rep
    try {
      const cold = await machine({});
      clean();
      const c = run(build(tool.prefix), { cwd: tree, env: cold.env });
      cold.stop();
      if (c.error) throw new Error(`cold build: ${c.error}`);
      const dir = cold.env.REPRISE_DIR ?? cold.env.SCCACHE_DIR;
      const times = [];
      let detail = '';
      for (let i = 0; i < o.reps; i++) {
        const m = await machine({}, dir);
        clean();
        const r = run(build(tool.prefix), { cwd: tree, env: m.env });
        detail = tool.summary(m.stats());
        m.stop();
        if (r.error) throw new Error(`warm build: ${r.error}`);
        times.push(r.ms);
      }
      rows.push({ tool: tool.name, level: 'local', ms: median(times), runs: times.length, detail });
      o.log(`${tool.name} local: ${median(times).toFixed(0)} ms (${detail})`);
    } catch (e) {
      rows.push({ tool: tool.name, level: 'local', error: String(e.message ?? e) });
      o.log(`${tool.name} local: ${e.message ?? e}`);
    }
    for (const backend of o.backends) {
      let server;
      try {
        server = await startServer(backend);
        const env = backendEnv(backend, server)[tool.name];
        if (!env) throw new Error(`${tool.name} has no ${backend} backend`);
        const cold = await machine(env);
        if (tool.name === 'sccache') {
          const where = tool.summary(cold.stats());
          if (!new RegExp(backend === 'webdav' ? 'webdav' : backend, 'i').test(where)) {
            cold.stop();
            throw new Error(`this sccache does not use ${backend} with sccache's variables (${where})`);
          }
        }
        clean();
        const c = run(build(tool.prefix), { cwd: tree, env: cold.env });
        cold.stats(); // answers once the stores in flight reached the server
        cold.stop();
        if (c.error) throw new Error(`cold build: ${c.error}`);
        const times = [];
        let detail = '';
        for (let i = 0; i < o.reps; i++) {
          const m = await machine(env);
          clean();
          const r = run(build(tool.prefix), { cwd: tree, env: m.env });
          detail = tool.summary(m.stats());
          m.stop();
          if (r.error) throw new Error(`warm build: ${r.error}`);
          times.push(r.ms);
        }
        rows.push({ tool: tool.name, level: backend, ms: median(times), runs: times.length, detail });
        o.log(`${tool.name} ${backend}: ${median(times).toFixed(0)} ms (${detail})`);
      } catch (e) {
        rows.push({ tool: tool.name, level: backend, error: String(e.message ?? e) });
        o.log(`${tool.name} ${backend}: ${e.message ?? e}`);
      } finally {
        if (server && typeof server.stop === 'function') await server.stop();
      }
    }
  }
  for (const r of rows) {
    const local = rows.find((x) => x.tool === r.tool && x.level === 'local' && x.ms);
    if (r.ms && local) r.vsLocal = r.ms / local.ms;
    if (r.ms) r.vsPlain = r.ms / rows[0].ms;
  }
  return { units: o.units, jobs: o.jobs, rows, notes };
}

export function remoteMarkdown(result) {
  const L = [`### Remote levels: warm clean rebuild of the generated ${result.units}-unit tree (make -j${result.jobs}), the local level empty`, '',
    '| tool | served from | median ms | × local disk | × plain | runs | detail |', '|---|---|---:|---:|---:|---:|---|'];
  for (const r of result.rows) {
    if (r.error) L.push(`| ${r.tool} | ${r.level} | — | — | — | — | ${r.error.replace(/\|/g, '\\|')} |`);
    else L.push(`| ${r.tool} | ${r.level} | ${r.ms.toFixed(0)} | ${r.vsLocal ? r.vsLocal.toFixed(2) : '—'} | ${r.vsPlain.toFixed(2)} | ${r.runs} | ${(r.detail ?? '').replace(/\|/g, '\\|')} |`);
  }
  for (const n of result.notes) L.push('', `* ${n}`);
  return L.join('\n') + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = Object.fromEntries(process.argv.slice(2).map((a) => (a.includes('=') ? [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a.slice(2), true])));
  const o = {
    quick: !!args.quick,
    ...(args.units ? { units: Number(args.units) } : {}),
    ...(args.reps ? { reps: Number(args.reps) } : {}),
    ...(args.jobs ? { jobs: Number(args.jobs) } : {}),
    ...(args.backends ? { backends: String(args.backends).split(',') } : {}),
    ...(args.work ? { work: path.resolve(String(args.work)) } : {}),
  };
  const result = await remoteBench(o);
  process.stdout.write(remoteMarkdown(result));
  const json = args.json ? path.resolve(String(args.json)) : path.join(REPO, 'bench', 'results', 'remote-latest.json');
  fs.mkdirSync(path.dirname(json), { recursive: true });
  fs.writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2));
}
