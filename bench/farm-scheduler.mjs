#!/usr/bin/env node
// Farm scheduler benchmark: allocation throughput with 100 registered builders and 32 concurrent
// clients, the scheduler pinned to one core.
//
//   node bench/farm-scheduler.mjs [--quick] [--seconds=N] [--builders=100] [--clients=32] [--json=PATH]
//
// Rows
//   in-process   the Scheduler class without HTTP, in a child process pinned to core 0 (taskset -c 0):
//                32 concurrent allocate() loops, each job finished at once (steady state), job tokens
//                signed as in production (fast-jwt over node:crypto): HS256 (the default, a key per builder
//                derived from its builder token) and ES256.
//                Also the rate of the two parts alone: choosing a builder, and signing a job token.
//   http         `reprise-dist scheduler` as its own process pinned to core 0; the load generator is
//                another process pinned to core 1, with an undici Pool of 32 keep-alive connections
//                and 32 concurrent loops. "allocate" sends only allocations (builders have room for all),
//                with HS256 and with ES256 job tokens; "allocate+finished" (HS256) also reports each job
//                finished, as a builder does. "one request each": every loop posts its own allocate;
//                "through the daemon's client": the loops call the daemon's SchedulerClient, which sends
//                allocations asked for while a request is on its way together (allocate-batch), as a farm
//                build's concurrent misses do. The load generator's own CPU % is reported (is it the limit?).
//   http floor   a bare Node http server pinned to core 0 that reads each request and answers a fixed
//                allocation-sized JSON: what HTTP alone costs on this machine, with the same load generator.
// Builders are simulated registrations (no process behind their URLs: the scheduler never calls them).
// Goal (issue 10): >= 20 000 allocations/s on one core.
//
// As a module: `import { farmSchedulerBench, farmSchedulerMarkdown } from './farm-scheduler.mjs'`.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(REPO, 'packages', 'dist', 'dist');
const SELF = fileURLToPath(import.meta.url);
const PROTOCOL = String((await import(pathToFileURL(path.join(DIST, 'protocol', 'common.js')).href)).DIST_PROTOCOL_VERSION);
const HAVE_TASKSET = spawnSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' }).status === 0;

function pinned(core, argv) {
  return HAVE_TASKSET && os.availableParallelism() > core ? ['taskset', ['-c', String(core), ...argv]] : [argv[0], argv.slice(1)];
}

function hostPlatform() {
  const arch = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386' }[process.arch] ?? process.arch;
  return { arch, os: process.platform };
}

function builderRegistration(i) {
  return {
    builderId: `bench-${i}`,
    url: `http://127.0.0.1:9/bench-${i}`,
    platform: hostPlatform(),
    cores: 8 + (i % 4) * 8,
    memoryBytes: 16 * 2 ** 30,
    sandboxes: ['bwrap'],
    toolchains: i % 3 === 0 ? ['tc-bench'] : [],
    freeToolchainBytes: 10 * 2 ** 30,
    version: 'bench',
    maxJobs: 100000,
  };
}

// ---------------------------------------------------------------- in-process worker (child, pinned)
async function inProcessWorker({ seconds, builders, clients, alg }) {
  const { Scheduler } = await import(pathToFileURL(path.join(DIST, 'scheduler', 'scheduler.js')).href);
  const { chooseBuilder } = await import(pathToFileURL(path.join(DIST, 'scheduler', 'allocator.js')).href);
  const { JobTokenSigner } = await import(pathToFileURL(path.join(DIST, 'auth', 'job-token.js')).href);
  const { Logger } = await import('@reprise/core/logger');
  const signer = await JobTokenSigner.generate(alg, 300);
  const scheduler = new Scheduler({
    version: 'bench', heartbeatIntervalMs: 60_000, missedHeartbeats: 3, allocationGraceMs: 10_000,
    queue: { defaultWaitMs: 2000, maxWaitMs: 30_000, maxLength: 4096 }, signer, logger: new Logger('silent'),
  });
  for (let i = 0; i < builders; i++) await scheduler.register(builderRegistration(i), undefined, 'bench-builder-token-0123456789');
  const request = { toolchainId: 'tc-bench', platforms: [hostPlatform()] };

  async function timed(fn) {
    let count = 0;
    const end = Date.now() + seconds * 1000;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: clients }, async () => {
      while (Date.now() < end) { await fn(); count++; }
    }));
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    return { perSecond: count / wallS, count, cpuPercent: ((cpu.user + cpu.system) / 1e6 / wallS) * 100 };
  }
  const allocate = await timed(async () => {
    const r = await scheduler.allocate(request);
    if (!r.ok) throw new Error(r.message);
    scheduler.finished(r.response.jobId, { ok: true, durationMs: 1 });
  });
  // The two parts alone: the choice (synchronous) and the signature.
  const registry = scheduler.registry;
  const query = { toolchainId: 'tc-bench', poolKeys: [`${hostPlatform().os}/${hostPlatform().arch}`] };
  let chooseCount = 0;
  const chooseCpu0 = process.cpuUsage();
  const c0 = process.hrtime.bigint();
  while (Number(process.hrtime.bigint() - c0) < seconds * 1e9 / 2) { for (let i = 0; i < 1000; i++) chooseBuilder(registry, query); chooseCount += 1000; }
  const chooseWallS = Number(process.hrtime.bigint() - c0) / 1e9;
  const chooseCpu = process.cpuUsage(chooseCpu0);
  const choose = { perSecond: chooseCount / chooseWallS, cpuPercent: ((chooseCpu.user + chooseCpu.system) / 1e6 / chooseWallS) * 100 };
  const sign = await timed(() => signer.sign({ jobId: 'j', builderId: 'bench-0', toolchainId: 'tc-bench' }));
  scheduler.close();
  process.stdout.write(JSON.stringify({ allocate, choose, sign }) + '\n');
}

// ---------------------------------------------------------------- HTTP load worker (child, pinned)
async function loadWorker({ url, token, builderToken, seconds, clients, withFinished, viaClient }) {
  const { Pool } = await import('undici');
  const pool = new Pool(url, { connections: clients, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { 'content-type': 'application/json', 'x-reprise-dist-protocol': PROTOCOL, authorization: `Bearer ${token}` };
  const builderHeaders = { ...headers, authorization: `Bearer ${builderToken}` };
  const body = JSON.stringify({ toolchainId: 'tc-bench', platforms: [hostPlatform()], maxWaitMs: 0 });
  const finishedBody = JSON.stringify({ ok: true, durationMs: 1 });
  // --via-client: the daemon's own SchedulerClient, as a farm build's concurrent misses use it (allocations asked for
  // while a request is on its way go together in the next, `allocate-batch`).
  const daemonClient = viaClient
    ? new (await import(pathToFileURL(path.join(DIST, 'client', 'scheduler-client.js')).href)).SchedulerClient(url, token, pool)
    : undefined;
  let count = 0;
  let errors = 0;
  const latencies = [];
  async function allocate() {
    if (daemonClient) return daemonClient.allocate('tc-bench', [hostPlatform()], 0).catch(() => undefined);
    const r = await pool.request({ path: '/v1/jobs/allocate', method: 'POST', headers, body });
    const text = await r.body.text();
    return r.statusCode === 200 ? JSON.parse(text) : undefined;
  }
  async function one() {
    const t = process.hrtime.bigint();
    const granted = await allocate();
    if (!granted) { errors++; return; }
    if (withFinished) {
      const f = await pool.request({ path: `/v1/jobs/${granted.jobId}/finished`, method: 'POST', headers: builderHeaders, body: finishedBody });
      await f.body.text();
      if (f.statusCode !== 200) errors++;
    }
    if (count % 16 === 0) latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    count++;
  }
  const warmEnd = Date.now() + 1000;
  await Promise.all(Array.from({ length: clients }, async () => { while (Date.now() < warmEnd) await one(); }));
  count = 0; errors = 0; latencies.length = 0;
  const end = Date.now() + seconds * 1000;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: clients }, async () => { while (Date.now() < end) await one(); }));
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await pool.close();
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  const loadCpuPercent = ((cpu.user + cpu.system) / 1e6 / wallS) * 100;
  process.stdout.write(JSON.stringify({ perSecond: count / wallS, count, errors, p50Ms: q(0.5), p99Ms: q(0.99), loadCpuPercent }) + '\n');
}

// ---------------------------------------------------------------- HTTP floor server (child, pinned)
async function floorServer() {
  const http = await import('node:http');
  const answer = JSON.stringify({ jobId: '00000000-0000-4000-8000-000000000000', builderId: 'bench-0', builderUrl: 'http://127.0.0.1:9/bench-0', jobToken: 'x'.repeat(330), expiresAt: 0 });
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString() || '{}');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`));
  process.once('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------- orchestration
function runChild(cmd, args, timeoutMs) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, cwd: REPO });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function cpuTicks(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, seconds at 100 Hz
  } catch { return NaN; }
}

function startListening(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${err}`)); });
  });
  return { child, url, stop: () => new Promise((r) => { if (child.exitCode !== null) return r(); child.once('exit', r); child.kill('SIGTERM'); }) };
}

async function schedulerCounters(s) {
  const { request } = await import('undici');
  const r = await request(`${s.url}/v1/status`, { headers: { 'x-reprise-dist-protocol': PROTOCOL, authorization: `Bearer ${s.clientToken}` } });
  return (await r.body.json()).counters;
}

async function startScheduler(work, alg) {
  const clientToken = 'bench-client-' + Math.random().toString(36).slice(2).padEnd(16, 'x');
  const builderToken = 'bench-builder-' + Math.random().toString(36).slice(2).padEnd(16, 'x');
  const config = path.join(work, 'scheduler.json');
  fs.writeFileSync(config, JSON.stringify({ listen: '127.0.0.1:0', logLevel: 'error', heartbeatIntervalMs: 60_000, jobTokens: { alg }, auth: { clientTokens: [clientToken], builderTokens: [builderToken] } }));
  const [cmd, args] = pinned(0, [process.execPath, path.join(DIST, 'bin', 'reprise-dist.js'), 'scheduler', '--config', config]);
  const server = startListening(cmd, args);
  return { url: await server.url, child: server.child, clientToken, builderToken, stop: server.stop };
}

export async function farmSchedulerBench(options = {}) {
  const log = options.log ?? ((...a) => console.error('[farm-scheduler]', ...a));
  const seconds = options.seconds ?? (options.quick ? 2 : 5);
  const builders = options.builders ?? 100;
  const clients = options.clients ?? 32;
  const work = options.work ?? path.join(REPO, '.bench-work', 'farm-scheduler');
  fs.mkdirSync(work, { recursive: true });
  if (!fs.existsSync(path.join(DIST, 'scheduler', 'scheduler.js'))) throw new Error('packages/dist is not built (npm run build)');
  const rows = [];
  const meta = { builders, clients, seconds, pinned: HAVE_TASKSET, cores: os.availableParallelism(), loadavg: os.loadavg(), node: process.version };

  for (const alg of ['HS256', 'ES256']) {
    log(`in-process allocator (${alg} job tokens): ${builders} builders, ${clients} concurrent allocations, ${seconds} s, core 0`);
    const [icmd, iargs] = pinned(0, [process.execPath, SELF, '--in-process-worker', `--alg=${alg}`, `--seconds=${seconds}`, `--builders=${builders}`, `--clients=${clients}`]);
    const ip = runChild(icmd, iargs, (seconds * 3 + 60) * 1000);
    rows.push({ mode: 'in-process', what: `allocate, ${alg} job tokens (choose + sign + finish)`, perSecond: ip.allocate.perSecond, cpuPercent: ip.allocate.cpuPercent });
    if (alg === 'HS256') rows.push({ mode: 'in-process', what: 'choose a builder only', perSecond: ip.choose.perSecond, cpuPercent: ip.choose.cpuPercent });
    rows.push({ mode: 'in-process', what: `sign a job token only (${alg}, fast-jwt)`, perSecond: ip.sign.perSecond, cpuPercent: ip.sign.cpuPercent });
  }

  for (const alg of ['HS256', 'ES256']) {
    const s = await startScheduler(work, alg);
    try {
      const { request } = await import('undici');
      const headers = { 'content-type': 'application/json', 'x-reprise-dist-protocol': PROTOCOL, authorization: `Bearer ${s.builderToken}` };
      for (let i = 0; i < builders; i++) {
        const r = await request(`${s.url}/v1/builders/register`, { method: 'POST', headers, body: JSON.stringify(builderRegistration(i)) });
        await r.body.text();
        if (r.statusCode !== 200) throw new Error(`register failed: ${r.statusCode}`);
      }
      const variants = alg === 'HS256'
        ? [{ withFinished: false, viaClient: false }, { withFinished: false, viaClient: true }, { withFinished: true, viaClient: false }, { withFinished: true, viaClient: true }]
        : [{ withFinished: false, viaClient: false }, { withFinished: false, viaClient: true }];
      for (const { withFinished, viaClient } of variants) {
        const what = `${withFinished ? 'allocate+finished (jobs/s)' : 'allocate'}, ${viaClient ? 'through the daemon\'s client (batched)' : 'one request each'}, ${alg} job tokens`;
        log(`http ${what}: ${clients} concurrent, ${seconds} s, scheduler on core 0, load on core 1`);
        const before = await schedulerCounters(s);
        const cpu0 = cpuTicks(s.child.pid);
        const t0 = Date.now();
        const [lcmd, largs] = pinned(1, [process.execPath, SELF, '--load-worker', `--url=${s.url}`, `--token=${s.clientToken}`, `--builder-token=${s.builderToken}`, `--seconds=${seconds}`, `--clients=${clients}`, ...(withFinished ? ['--with-finished'] : []), ...(viaClient ? ['--via-client'] : [])]);
        const r = runChild(lcmd, largs, (seconds + 60) * 1000);
        const cpuPercent = ((cpuTicks(s.child.pid) - cpu0) / ((Date.now() - t0) / 1000)) * 100;
        const after = await schedulerCounters(s);
        const batches = after.allocateBatches - before.allocateBatches;
        const perBatch = batches ? (after.allocations - before.allocations) / batches : undefined;
        rows.push({ mode: 'http', what, perSecond: r.perSecond, errors: r.errors, p50Ms: r.p50Ms, p99Ms: r.p99Ms, schedulerCpuPercent: cpuPercent, loadCpuPercent: r.loadCpuPercent, allocationsPerBatch: perBatch });
      }
    } finally {
      await s.stop();
    }
  }

  log(`http floor: a bare Node http server on core 0, same load`);
  const [fcmd, fargs] = pinned(0, [process.execPath, SELF, '--floor-server']);
  const floor = startListening(fcmd, fargs);
  try {
    const url = await floor.url;
    const cpu0 = cpuTicks(floor.child.pid);
    const t0 = Date.now();
    const [lcmd, largs] = pinned(1, [process.execPath, SELF, '--load-worker', `--url=${url}`, '--token=x', '--builder-token=x', `--seconds=${seconds}`, `--clients=${clients}`]);
    const r = runChild(lcmd, largs, (seconds + 60) * 1000);
    const cpuPercent = ((cpuTicks(floor.child.pid) - cpu0) / ((Date.now() - t0) / 1000)) * 100;
    rows.push({ mode: 'http floor', what: 'bare Node http server, fixed answer', perSecond: r.perSecond, errors: r.errors, p50Ms: r.p50Ms, p99Ms: r.p99Ms, schedulerCpuPercent: cpuPercent, loadCpuPercent: r.loadCpuPercent });
  } finally {
    await floor.stop();
  }
  return { rows, meta };
}

export function farmSchedulerMarkdown({ rows, meta }) {
  const f = (n) => (n === undefined || Number.isNaN(n) ? '' : Math.round(n).toLocaleString('en-US'));
  const L = [
    `### Farm scheduler: allocations/s (${meta.builders} builders, ${meta.clients} concurrent clients, scheduler on one core${meta.pinned ? ' (taskset)' : ', NOT pinned: taskset missing'}; goal ≥ 20 000/s)`,
    '',
    '| mode | what | per second (wall) | scheduler CPU % | per CPU-second | load generator CPU % | allocations per request | p50 ms | p99 ms | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const cpu = r.cpuPercent ?? r.schedulerCpuPercent;
    const perCpuSecond = cpu ? r.perSecond / (cpu / 100) : undefined;
    L.push(`| ${r.mode} | ${r.what} | ${f(r.perSecond)} | ${f(cpu)} | ${f(perCpuSecond)} | ${f(r.loadCpuPercent)} | ${r.allocationsPerBatch?.toFixed?.(1) ?? ''} | ${r.p50Ms?.toFixed?.(2) ?? ''} | ${r.p99Ms?.toFixed?.(2) ?? ''} | ${r.errors ?? ''} |`);
  }
  L.push('', 'Per CPU-second = operations per second of CPU time the scheduler used: on a shared, loaded machine the wall rate only shows the share of a core it got.');
  L.push('', `Load average at start: ${meta.loadavg.map((x) => x.toFixed(2)).join(' ')} on ${meta.cores} cores (shared machine); Node ${meta.node}.`);
  return L.join('\n') + '\n';
}

// ---------------------------------------------------------------- CLI
function parseFlags(argv) {
  const o = {};
  for (const a of argv) {
    const [k, v] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, 'true'];
    o[k.replace(/^--/, '')] = v;
  }
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  const f = parseFlags(process.argv.slice(2));
  const num = (k, d) => (f[k] === undefined ? d : Number(f[k]));
  if (f['floor-server']) {
    await floorServer();
  } else if (f['in-process-worker']) {
    await inProcessWorker({ seconds: num('seconds', 5), builders: num('builders', 100), clients: num('clients', 32), alg: f.alg ?? 'HS256' });
  } else if (f['load-worker']) {
    await loadWorker({ url: f.url, token: f.token, builderToken: f['builder-token'], seconds: num('seconds', 5), clients: num('clients', 32), withFinished: f['with-finished'] === 'true', viaClient: f['via-client'] === 'true' });
  } else {
    const result = await farmSchedulerBench({ quick: f.quick === 'true', seconds: f.seconds ? Number(f.seconds) : undefined, builders: num('builders', 100), clients: num('clients', 32) });
    process.stdout.write(farmSchedulerMarkdown(result));
    if (f.json) fs.writeFileSync(f.json, JSON.stringify(result, null, 2) + '\n');
  }
}
