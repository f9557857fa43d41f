#!/usr/bin/env node
// Reprise benchmark: plain compiler vs ccache vs sccache vs Reprise, in one run.
//
//   npm run bench                       (= npm run build && node bench/run.mjs)
//   node bench/run.mjs [--quick] [--only=hit,npm-bin,hit-ratio,miss,rebuild,rust,hermetic,remote,farm-scheduler,farm] [--tools=plain,ccache,sccache,reprise]
//                      [--projects=generated-200,lua5.4,yaml-cpp] [--jobs=2] [--work=DIR] [--fixtures=DIR] [--no-fetch] [--json=PATH]
//                      [--timer=hyperfine|node]
//                      [--hit-calls=N] [--plain-calls=N] [--miss-runs=N] [--rebuild-reps=N] [--cold-reps=N]
//                      [--cold-daemon=kept|fresh]
//                      [--max-minutes=N]
//
// Scenarios
//   hit      one warm hit of a small C++ file (test-fixtures/bench/small.cpp), many calls,
//            min/median/max wall time per call. Timed with hyperfine -N (lower spawn overhead
//            than node) when installed, else a process.hrtime loop (--timer=node); tools are
//            interleaved in batches of 10 calls (each after 2 untimed ones) so drift hits them alike.
//            Noise rows: spawning /bin/true and `node -e 0` with the same timer.
//   npm-bin  a warm hit through node_modules/.bin/reprise after a real `npm install` of the release
//            tarballs (scripts/pack-release.mjs), against the native client alone, the sh launcher
//            left by --ignore-scripts and ccache, alternating call by call (bench/npm-bin.mjs, also alone).
//   hit-ratio  a hit of each Reprise client (native, compiler link, sh launcher, daemon-only) against
//            a ccache hit, alternating call by call, in blocks and with 20 ms gaps, idle and with two
//            busy loops (bench/hit-ratio.mjs, a C driver times each call).
//   miss     one miss: each tool's cache dir is fresh at scenario start and every timed run
//            compiles a source that differs (a nonce declaration appended, which changes the
//            preprocessed text too), so every timed call is a real miss; servers/daemons are
//            already running (one untimed warm-up call). Ratio = median / plain median.
//   rebuild  multi-file projects (--projects=generated-200,lua5.4,yaml-cpp picks some): a generated
//            200-unit C/C++ tree (bench/generated-tree.mjs; make -jN CC=.. CXX=..) and real ones from
//            scripts/fetch-fixture-sources.sh: lua5.4 (make -jN, CC="<tool> gcc -std=gnu99") and
//            yaml-cpp (CMake, *_COMPILER_LAUNCHER=<tool>, cmake --build -jN). Cold builds: an untimed
//            warm-up round, then --cold-reps rounds (2 with --quick, else 3) in which every tool, plain
//            included, builds once with its cache emptied before (--cold-daemon=kept: Reprise's daemon
//            stays up, as for a user who built before; fresh: stopped and started by the build), the
//            order rotated each round; CPU / plain is taken round by round (median, min-max). Then
//            timed warm rebuild(s). Warm baseline: plain build time (median of the timed plain rebuilds). The
//            timed rebuilds of all tools are interleaved (plain, ccache, ... then again in a
//            rotated order) so machine drift hits them alike. CPU time (user+sys) of the build
//            plus that of the tool's server/daemon process is recorded as well: on a shared
//            2-core VM it is steadier than wall time.
//   rust     a clean `cargo build` of test-fixtures/rust-workspace: plain, Reprise cold and warm (wall and CPU),
//            sccache warm (bench/rust.mjs, also runnable alone); and a second checkout of it built
//            with the first one's entries (baseDirs, remapped; bench/rust-checkouts.mjs).
//   hermetic a miss compiled in each sandbox (bwrap, docker/podman) against a plain compile, and
//            packaging a toolchain cold and warm (bench/hermetic.mjs, also runnable alone).
//   remote   a warm clean rebuild of the generated tree served from each remote level alone (redis,
//            memcached, nginx WebDAV, s3rver; the local level empty) against one from the local disk,
//            for Reprise and for sccache where it has the backend (bench/remote.mjs, also runnable alone).
//   farm-scheduler  the farm scheduler's allocation throughput: 100 simulated builders, 32 concurrent
//            clients, scheduler pinned to one core, in-process and over HTTP with keep-alive
//            (bench/farm-scheduler.mjs, also runnable alone).
//   farm     the farm's own cost per job (a farm compile minus the same compile in bwrap here), the daemon's CPU per
//            farm job and per local miss, and a clean
//            build on two builders pinned to their own cores against one core (bench/farm.mjs, also alone).
//
// Isolation: every tool gets fresh cache dirs under the work dir (default <repo>/.bench-work)
// for every scenario: CCACHE_DIR, SCCACHE_DIR (+ a private SCCACHE_SERVER_PORT on
// 127.0.0.1, server started fresh and stopped at the end), REPRISE_DIR and
// REPRISE_RUNTIME_DIR (daemon stopped with `reprise --stop-server` at the end).
// Inherited CCACHE_*, SCCACHE_*, REPRISE_* and MAKEFLAGS variables are removed.
// Every loop is bounded in count and in time; every child process has a timeout.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeneratedTree } from './generated-tree.mjs';
import { yamlCppBuild, yamlCppClean, yamlCppConfigure } from './yaml-cpp-project.mjs';
import { median, rotatedRounds, roundRatios } from './cold-rounds.mjs';
import { childCpuMs, markedCpuMs } from './proc-cpu.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const T0 = Date.now();

// ---------------------------------------------------------------- options
const SCENARIOS = ['hit', 'npm-bin', 'hit-ratio', 'miss', 'rebuild', 'rust', 'hermetic', 'remote', 'farm-scheduler', 'farm'];
function parseArgs(argv) {
  const o = {
    quick: false,
    only: ['hit', 'npm-bin', 'hit-ratio', 'miss', 'rebuild', 'rust', 'hermetic', 'remote', 'farm-scheduler', 'farm'],
    tools: ['plain', 'ccache', 'sccache', 'reprise', 'reprise-node'],
    jobs: 2,
    work: path.join(REPO, '.bench-work'),
    fixtures: process.env.REPRISE_FIXTURES_DIR || path.join(REPO, '.fixtures'),
    fetch: true,
    json: path.join(REPO, 'bench', 'results', 'latest.json'),
    maxMinutes: 30,
    timer: 'hyperfine',
    coldDaemon: 'kept',
  };
  const num = {};
  for (const a of argv) {
    const [k, v] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    switch (k) {
      case '--quick': o.quick = true; break;
      case '--only': o.only = v.split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--tools': o.tools = v.split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--projects': o.projects = v.split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--jobs': o.jobs = posInt(k, v); break;
      case '--work': o.work = path.resolve(v); break;
      case '--fixtures': o.fixtures = path.resolve(v); break;
      case '--no-fetch': o.fetch = false; break;
      case '--json': o.json = path.resolve(v); break;
      case '--max-minutes': o.maxMinutes = posInt(k, v); break;
      case '--timer':
        if (!['hyperfine', 'node'].includes(v)) die('--timer is hyperfine or node');
        o.timer = v; break;
      case '--cold-daemon':
        if (!['kept', 'fresh'].includes(v)) die('--cold-daemon is kept or fresh');
        o.coldDaemon = v; break;
      case '--hit-calls': case '--plain-calls': case '--miss-runs': case '--rebuild-reps': case '--cold-reps':
        num[k.slice(2)] = posInt(k, v); break;
      case '-h': case '--help':
        process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n')
          .slice(1).filter((l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
        process.exit(0);
        break;
      default:
        die(`unknown option ${a} (try --help)`);
    }
  }
  for (const s of o.only) if (!SCENARIOS.includes(s)) die(`--only: unknown scenario ${s}`);
  for (const t of o.tools) if (!['plain', 'ccache', 'sccache', 'reprise', 'reprise-node'].includes(t)) die(`--tools: unknown tool ${t}`);
  if (!o.tools.includes('plain')) o.tools.unshift('plain'); // the baseline is always measured
  const q = o.quick;
  o.hitCalls = num['hit-calls'] ?? (q ? 10 : 60);
  o.plainCalls = num['plain-calls'] ?? (q ? 3 : 10);
  o.missRuns = num['miss-runs'] ?? (q ? 3 : 7);
  o.rebuildReps = num['rebuild-reps'] ?? (q ? 1 : 3);
  o.coldReps = num['cold-reps'] ?? (q ? 2 : 3);
  o.noiseCalls = q ? 10 : 30;
  // time budgets (ms) for each tool's loop in a scenario
  o.hitBudgetMs = (q ? 20 : 60) * 1000;
  o.missBudgetMs = (q ? 30 : 90) * 1000;
  o.deadline = T0 + o.maxMinutes * 60_000;
  return o;
}
function posInt(k, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) die(`${k} needs a positive integer`);
  return n;
}
function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

const opt = parseArgs(process.argv.slice(2));
const log = (...a) => process.stderr.write(`[bench ${((Date.now() - T0) / 1000).toFixed(0).padStart(4)}s] ${a.join(' ')}\n`);
const pastDeadline = () => Date.now() > opt.deadline;

// ---------------------------------------------------------------- process helpers
const BASE_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(CCACHE_|SCCACHE_|REPRISE_)/.test(k) &&
    !['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES'].includes(k)),
);

/** Run argv synchronously; returns {status, ms, stdout, stderr, error}. Never throws. */
function run(argv, { env = {}, cwd = opt.work, timeoutMs = 120_000, logFile = null } = {}) {
  let fd = null;
  if (logFile) {
    fd = fs.openSync(logFile, 'a');
    fs.writeSync(fd, `\n$ ${argv.map(shq).join(' ')}   (cwd ${cwd})\n`);
  }
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), {
    cwd,
    env: { ...BASE_ENV, ...env },
    stdio: fd === null ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (fd !== null) fs.closeSync(fd);
  let error = null;
  if (r.error) error = r.error.code === 'ETIMEDOUT' ? `timed out after ${timeoutMs} ms` : String(r.error.message);
  else if (r.status !== 0) error = `exit ${r.status ?? r.signal}`;
  return { status: r.status, ms, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error };
}
function shq(s) {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`;
}
function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${shq(cmd)}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
function firstLine(argv) {
  const r = run(argv, { timeoutMs: 15_000 });
  return r.error ? null : (r.stdout || r.stderr).split('\n')[0].trim();
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
function mkdirp(p) {
  fs.mkdirSync(p, { recursive: true });
  return p;
}
function fresh(p) {
  fs.rmSync(p, { recursive: true, force: true });
  return mkdirp(p);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- CPU accounting (Linux /proc)

// ---------------------------------------------------------------- statistics
function summarize(samples) {
  if (!samples.length) return null;
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, min: s[0], median, max: s[s.length - 1], mean, spreadPct: median ? ((s[s.length - 1] - s[0]) / median) * 100 : 0 };
}
const r3 = (x) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 1000) / 1000);
function roundDeep(o) {
  if (typeof o === 'number') return r3(o);
  if (Array.isArray(o)) return o.map(roundDeep);
  if (o && typeof o === 'object') return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, roundDeep(v)]));
  return o;
}

// ---------------------------------------------------------------- tools
const WORK = mkdirp(opt.work);
const LOGS = fresh(path.join(WORK, 'logs'));

function resolveReprise() {
  // REPRISE_BIN (if set) is the only candidate: REPRISE_BIN=/nonexistent shows the "not built" path
  const candidates = process.env.REPRISE_BIN ? [process.env.REPRISE_BIN] : [
    path.join(REPO, 'packages/core/dist/bin/reprise.js'),
    path.join(REPO, 'node_modules/.bin/reprise'),
  ];
  for (const c of candidates) {
    try {
      const real = fs.realpathSync(c);
      if (fs.statSync(real).isFile()) return real;
    } catch { /* absent */ }
  }
  return null;
}

/** Short enough for a unix socket path (108 bytes incl. the socket file name). */
function runtimeDir(preferred) {
  // 0700: the clients refuse a runtime directory others can use (docs/security.md) and would compile uncached.
  const dir = preferred.length <= 80 ? fresh(preferred) : fs.mkdtempSync(path.join(os.tmpdir(), 'reprise-bench-'));
  fs.chmodSync(dir, 0o700);
  return dir;
}

/** Find a value by key name anywhere in a JSON tree (first match, depth-first). */
function findKey(obj, re, depth = 0) {
  if (!obj || typeof obj !== 'object' || depth > 6) return undefined;
  for (const [k, v] of Object.entries(obj)) if (re.test(k)) return v;
  for (const v of Object.values(obj)) {
    const r = findKey(v, re, depth + 1);
    if (r !== undefined) return r;
  }
  return undefined;
}
const asNumber = (v) => (typeof v === 'number' ? v
  : v && typeof v === 'object' && typeof v.median === 'number' ? v.median
    : v && typeof v === 'object' && typeof v.total === 'number' ? v.total : undefined);

class Tool {
  constructor(name) {
    this.name = name;
    this.available = true;
    this.reason = '';
    this.version = null;
    this.env = {};
  }
  /** argv prefix put before the compiler */
  prefix() { return []; }
  /** fresh cache (and server) for a scenario */
  async reset(_dir) {}
  /** empty the cache before a cold build; `daemon` is 'kept' (a daemon stays up) or 'fresh' */
  async clearCache(_daemon) {}
  zeroStats() {}
  /** an env entry that identifies this tool's server/daemon process(es), or null */
  daemonMarker() { return null; }
  /** {hits, misses, detail} or null when unknown */
  stats() { return null; }
  /** resolves once the tool's daemon has done the work it leaves for idle time (none for most tools) */
  async idle() {}
  stop() {}
}

class Plain extends Tool {
  constructor() { super('plain'); this.version = firstLine(['gcc', '--version']); }
}

class Ccache extends Tool {
  constructor() {
    super('ccache');
    this.bin = which('ccache');
    if (!this.bin) { this.available = false; this.reason = 'not installed'; return; }
    this.version = firstLine([this.bin, '--version']);
  }
  prefix() { return [this.bin]; }
  async reset(dir) { this.dir = dir; this.env = { CCACHE_DIR: fresh(path.join(dir, 'cache')) }; }
  async clearCache() { await this.reset(this.dir); }
  zeroStats() { run([this.bin, '-z'], { env: this.env }); }
  stats() {
    const r = run([this.bin, '--print-stats'], { env: this.env });
    if (r.error) return null;
    const m = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('\t')).map(([k, v]) => [k, Number(v)]));
    const direct = m.direct_cache_hit ?? 0;
    const pre = m.preprocessed_cache_hit ?? 0;
    return { hits: direct + pre, misses: m.cache_miss ?? 0, detail: `direct ${direct}, preprocessed ${pre}, link ${m.called_for_link ?? 0}` };
  }
}

class Sccache extends Tool {
  constructor() {
    super('sccache');
    this.bin = which('sccache');
    if (!this.bin) { this.available = false; this.reason = 'not installed'; return; }
    this.version = firstLine([this.bin, '--version']);
    this.running = false;
  }
  prefix() { return [this.bin]; }
  // sccache's server keeps an index of its disk cache: a fresh directory means a fresh server.
  async clearCache() { await this.reset(this.dir); }
  async reset(dir) {
    this.stop();
    this.dir = dir;
    const port = await freePort();
    this.env = {
      SCCACHE_DIR: fresh(path.join(dir, 'cache')),
      SCCACHE_SERVER_PORT: String(port),
      SCCACHE_IDLE_TIMEOUT: '900', // the server goes away by itself if this harness dies
      SCCACHE_ERROR_LOG: path.join(LOGS, 'sccache-server.log'),
    };
    const r = run([this.bin, '--start-server'], { env: this.env, timeoutMs: 30_000 });
    if (r.error) throw new Error(`sccache --start-server: ${r.error}: ${r.stderr.trim()}`);
    this.running = true;
  }
  zeroStats() { run([this.bin, '--zero-stats'], { env: this.env }); }
  daemonMarker() { return this.running ? `SCCACHE_SERVER_PORT=${this.env.SCCACHE_SERVER_PORT}` : null; }
  stats() {
    const r = run([this.bin, '--show-stats', '--stats-format', 'json'], { env: this.env });
    if (r.error) return null;
    try {
      const j = JSON.parse(r.stdout).stats;
      const sum = (o) => Object.values(o?.counts ?? {}).reduce((a, b) => a + b, 0);
      return {
        hits: sum(j.cache_hits),
        misses: sum(j.cache_misses),
        detail: `requests ${j.compile_requests}, not cacheable ${j.requests_not_cacheable}, non-compile ${j.requests_not_compile}`,
      };
    } catch { return null; }
  }
  stop() {
    if (!this.running) return;
    run([this.bin, '--stop-server'], { env: this.env, timeoutMs: 30_000 });
    this.running = false;
  }
}

// `reprise` is what users run: the native client when it was built (as bin/reprise
// does), else the Node client. `reprise-node` always measures the Node client.
const NATIVE = path.join(REPO, 'packages/core/dist/native/reprise-native');
class Reprise extends Tool {
  constructor(name = 'reprise', preferNative = true) {
    super(name);
    this.bin = resolveReprise();
    if (!this.bin) { this.available = false; this.reason = 'not built'; return; }
    this.native = preferNative && !process.env.REPRISE_BIN && fs.existsSync(NATIVE) ? NATIVE : null;
    this.version = (firstLine([process.execPath, this.bin, '--version']) ?? '(--version failed)') + (this.native ? ' (native client)' : ' (Node client)');
    this.started = false;
  }
  prefix() { return this.native ? [this.native] : [process.execPath, this.bin]; }
  async clearCache(daemon) {
    if (daemon === 'fresh') return this.reset(this.dir);
    const r = run([process.execPath, this.bin, '--clear'], { env: this.env, timeoutMs: 60_000 });
    if (r.error) throw new Error(`reprise --clear: ${r.error}`);
  }
  async reset(dir) {
    this.stop();
    this.dir = dir;
    this.env = {
      REPRISE_DIR: fresh(path.join(dir, 'cache')),
      REPRISE_RUNTIME_DIR: runtimeDir(path.join(dir, 'rt')),
    };
    this.started = true; // the daemon starts on first use
  }
  zeroStats() { run([...this.prefix(), '--zero-stats'], { env: this.env }); }
  daemonMarker() { return this.started ? `REPRISE_RUNTIME_DIR=${this.env.REPRISE_RUNTIME_DIR}` : null; }
  /** the fallback copies of a cold build's misses are made once the daemon is idle: wait for them (bounded) */
  async idle() {
    const until = Date.now() + 300_000;
    while (Date.now() < until) {
      const st = this.rawStats()?.stats;
      if (!st || !st.fallbackCopiesWaiting) return;
      await sleep(500);
    }
  }
  rawStats() {
    const r = run([...this.prefix(), '--show-stats', '--json'], { env: this.env });
    if (r.error) return null;
    try { return JSON.parse(r.stdout); } catch { return null; }
  }
  stats() {
    const j = this.rawStats();
    if (!j) return null;
    // tolerant: {stats: {hitsDirect, hitsPreprocessor, misses, notCacheable: {...}}} or {hits, misses}
    const st = (typeof j.stats === 'object' && j.stats) || j;
    const sumOf = (re) => {
      const vals = Object.entries(st).filter(([k, v]) => re.test(k) && typeof asNumber(v) === 'number').map(([, v]) => asNumber(v));
      return vals.length ? vals.reduce((a, b) => a + b, 0) : (asNumber(findKey(j, re)) ?? null);
    };
    // hitsByClient is a part of hitsDirect (the hits the native client answered), not more hits.
    const hits = sumOf(/^(cache_?)?(hit|hits|hits(?!ByClient)[A-Z_].*)$/);
    const misses = sumOf(/^(cache_?)?miss(es)?$/i);
    const parts = [];
    for (const [k, v] of Object.entries(st)) {
      if (/^hits[A-Z_]/.test(k) && typeof v === 'number') parts.push(`${k} ${v}`);
    }
    for (const k of ['notCacheable', 'errors']) {
      const o = st[k];
      if (o && typeof o === 'object') for (const [r, n] of Object.entries(o)) if (n) parts.push(`${k}:${r} ${n}`);
    }
    if (typeof st.calls === 'number') parts.unshift(`calls ${st.calls}`);
    if (hits == null) parts.push('no hits field in --show-stats --json');
    return { hits, misses, detail: parts.join(', ') };
  }
  /** daemon-side ms per hit, if the stats expose it */
  hitServiceMs() {
    const j = this.rawStats();
    if (!j) return null;
    const v = asNumber(findKey(j, /^hitServiceMs$/i) ?? findKey(j, /hit.*service.*ms/i));
    return v ?? null;
  }
  stop() {
    if (!this.started) return;
    run([...this.prefix(), '--stop-server'], { env: this.env, timeoutMs: 30_000 });
    this.started = false;
  }
}

const ctor = { plain: Plain, ccache: Ccache, sccache: Sccache, reprise: Reprise };
const tools = opt.tools.map((t) => (t === 'reprise-node' ? new Reprise('reprise-node', false) : new ctor[t]()));
const cacheTools = () => tools.filter((t) => t.name !== 'plain');
const usable = () => tools.filter((t) => t.available);

let stopped = false;
function stopAll() {
  if (stopped) return;
  stopped = true;
  for (const t of tools) {
    try { t.stop(); } catch { /* best effort */ }
  }
}
process.on('exit', stopAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping servers`);
    stopAll();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- results
const results = {
  meta: {
    date: new Date().toISOString(),
    host: os.hostname(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavgAtStart: os.loadavg(),
    node: process.version,
    versions: Object.fromEntries(tools.map((t) => [t.name, t.available ? t.version : t.reason])),
    cmake: firstLine(['cmake', '--version']),
    options: {
      quick: opt.quick, only: opt.only, jobs: opt.jobs, hitCalls: opt.hitCalls, plainCalls: opt.plainCalls,
      missRuns: opt.missRuns, rebuildReps: opt.rebuildReps,
    },
  },
  noise: {},
  hit: {},
  miss: {},
  rebuild: {},
  reprise: {},
  notes: [],
};
for (const t of tools) if (!t.available) log(`${t.name}: ${t.reason}`);

// ---------------------------------------------------------------- sources
const SRC = fresh(path.join(WORK, 'src'));
const SMALL = path.join(REPO, 'test-fixtures/bench/small.cpp');
const smallText = fs.readFileSync(SMALL, 'utf8');
const hitSrc = path.join(SRC, 'small.cpp');
fs.writeFileSync(hitSrc, smallText);
const RUN_ID = `${process.pid}_${Date.now().toString(36)}`;
const CXX_ARGS = ['g++', '-std=c++17', '-O2'];
const srcWrittenAt = Date.now();
/** ccache ignores direct mode for files modified in the second the compile started; wait that out */
async function settleSources() {
  const wait = srcWrittenAt + 2100 - Date.now();
  if (wait > 0) await sleep(wait);
}

// ---------------------------------------------------------------- timer for per-call rows
const HYPERFINE = opt.timer === 'hyperfine' ? which('hyperfine') : null;
results.meta.timer = HYPERFINE ? `hyperfine -N (${firstLine([HYPERFINE, '--version'])})` : 'node process.hrtime + spawnSync';
let hfSeq = 0;
/**
 * Time n calls of argv. Returns {samples: ms[], clientCpuMs: per-call user+sys of the client
 * process tree, error}. Bounded by count (n) and time (timeoutMs for the whole batch).
 */
function timeBatch(argv, n, { env = {}, cwd = opt.work, timeoutMs = 60_000 } = {}) {
  if (HYPERFINE) {
    const json = path.join(LOGS, `hyperfine-${++hfSeq}.json`);
    // hyperfine gives every run an environment variable of random length: each call would then be a new request to
    // Reprise, whose client answers only a request it has seen byte for byte. Every tool pays the same `env` exec.
    const unrandomized = ['env', '-u', 'HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET', ...argv];
    const r = run([HYPERFINE, '-N', '--runs', String(n), '--style', 'none', '--export-json', json, unrandomized.map(shq).join(' ')],
      { env, cwd, timeoutMs });
    if (r.error) return { samples: [], error: `hyperfine: ${r.error}: ${(r.stderr || r.stdout).trim().split('\n').pop()}` };
    const res = JSON.parse(fs.readFileSync(json, 'utf8')).results[0];
    return { samples: res.times.map((x) => x * 1000), clientCpuMs: (res.user + res.system) * 1000 };
  }
  const samples = [];
  const c0 = childCpuMs();
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < n && Date.now() < end; i++) {
    const r = run(argv, { env, cwd, timeoutMs: Math.max(1000, end - Date.now()) });
    if (r.error) return { samples, error: r.error };
    samples.push(r.ms);
  }
  return { samples, clientCpuMs: samples.length ? (childCpuMs() - c0) / samples.length : null };
}

// ---------------------------------------------------------------- scenario: hit
async function scenarioHit() {
  log(`scenario hit: per-call warm hit of small.cpp (timer: ${results.meta.timer})`);
  const dir = fresh(path.join(WORK, 'hit'));
  await settleSources();

  // noise floor of this machine + timer: a trivial process, and node's own start-up
  for (const [k, argv, n] of [['spawn /bin/true', ['/bin/true'], opt.noiseCalls],
    ['spawn node -e 0', [process.execPath, '-e', '0'], Math.min(opt.noiseCalls, 15)]]) {
    const b = timeBatch(argv, n);
    results.noise[k] = b.error ? { error: b.error } : summarize(b.samples);
  }

  const state = new Map();
  for (const t of usable()) {
    const tdir = mkdirp(path.join(dir, t.name));
    const argv = [...t.prefix(), ...CXX_ARGS, '-c', hitSrc, '-o', path.join(tdir, 'small.o')];
    try {
      await t.reset(tdir);
      // prime: first call is a miss that fills the cache, second should be a hit
      for (let i = 0; i < (t.name === 'plain' ? 1 : 2); i++) {
        const r = run(argv, { env: t.env, cwd: tdir, logFile: path.join(LOGS, `hit-${t.name}.log`) });
        if (r.error) throw new Error(`prime compile failed: ${r.error} (see ${path.join(LOGS, `hit-${t.name}.log`)})`);
      }
      t.zeroStats();
      state.set(t, { argv, tdir, samples: [], cpu: [], daemonMs: 0, spent: 0, target: t.name === 'plain' ? opt.plainCalls : opt.hitCalls });
    } catch (e) {
      results.hit[t.name] = { error: String(e.message ?? e) };
      log(`  ${t.name}: ${e.message ?? e}`);
    }
  }
  // interleave the tools in batches, bounded by count and by time per tool
  const BATCH = opt.quick ? 5 : 10;
  for (let round = 0; round < Math.ceil(opt.hitCalls / BATCH) + 1 && !pastDeadline(); round++) {
    for (const [t, s] of state) {
      const left = s.target - s.samples.length;
      const budget = opt.hitBudgetMs - s.spent;
      if (s.failed || left <= 0 || budget <= 0) continue;
      // Two untimed calls first (the batch before was another tool's: every tool gets its caches back
      // alike), outside the daemon-CPU window so that it covers the timed calls only.
      for (let i = 0; i < 2; i++) run(s.argv, { env: t.env, cwd: s.tdir, timeoutMs: 60_000 });
      const d0 = markedCpuMs(t.daemonMarker());
      const t0 = Date.now();
      const n = Math.min(BATCH, left);
      // a batch may overrun the budget by a bounded amount (slow tool: still get samples)
      const b = timeBatch(s.argv, n, { env: t.env, cwd: s.tdir, timeoutMs: Math.max(budget, 5000) + n * 5000 });
      s.spent += Date.now() - t0;
      if (b.error) { s.failed = b.error; continue; }
      s.daemonMs += markedCpuMs(t.daemonMarker()) - d0;
      s.samples.push(...b.samples);
      if (b.clientCpuMs != null) s.cpu.push([b.clientCpuMs, b.samples.length]);
    }
  }
  for (const [t, s] of state) {
    const n = s.samples.length;
    const cpuN = s.cpu.reduce((a, [, k]) => a + k, 0);
    const row = {
      ...summarize(s.samples),
      clientCpuMsPerCall: cpuN ? s.cpu.reduce((a, [c, k]) => a + c * k, 0) / cpuN : null,
      daemonCpuMsPerCall: t.daemonMarker() && n ? s.daemonMs / n : null,
      stats: t.stats(),
    };
    if (s.failed) row.error = s.failed;
    if (n < s.target && !s.failed) row.note = `stopped after ${n}/${s.target} calls (time budget)`;
    results.hit[t.name] = row;
    log(`  ${t.name.padEnd(8)} median ${fmtMs(row.median)}  (min ${fmtMs(row.min)}, max ${fmtMs(row.max)}, n=${n})`
      + (row.stats ? `  hits ${row.stats.hits}/${n}` : '') + (row.error ? `  ERROR ${row.error}` : ''));
  }
  const plain = results.hit.plain?.median;
  for (const row of Object.values(results.hit)) if (row.median && plain) row.ratioToPlain = row.median / plain;

  // Reprise: daemon-side time per hit vs client start-up
  const rp = tools.find((t) => t.name === 'reprise' && t.available && state.has(t));
  if (rp) {
    const svc = rp.hitServiceMs();
    const med = results.hit.reprise?.median;
    results.reprise = {
      perCallMedianMs: med ?? null,
      hitServiceMs: svc,
      clientAndTransportMs: svc != null && med != null ? med - svc : null,
      daemonCpuMsPerCall: results.hit.reprise?.daemonCpuMsPerCall ?? null,
      clientCpuMsPerCall: results.hit.reprise?.clientCpuMsPerCall ?? null,
      nodeStartupMedianMs: results.noise['spawn node -e 0']?.median ?? null,
      note: svc == null ? 'reprise --show-stats --json has no hitServiceMs field' : undefined,
    };
  }
}

// ---------------------------------------------------------------- scenario: miss
async function scenarioMiss() {
  log('scenario miss: empty cache, unique source per run');
  const dir = fresh(path.join(WORK, 'miss'));
  const msrc = mkdirp(path.join(dir, 'src'));
  const file = (t, i) => path.join(msrc, `${t.name}_${i}.cpp`);
  for (const t of usable()) {
    for (let i = 0; i <= opt.missRuns; i++) {
      // a declaration survives preprocessing, so even ccache's preprocessor mode sees a new input
      fs.writeFileSync(file(t, i), `${smallText}\nextern const char reprise_bench_nonce_${t.name.replace(/\W/g, "_")}_${i}_${RUN_ID}[];\n`);
    }
  }
  await sleep(2100); // see settleSources()
  const state = new Map();
  for (const t of usable()) {
    const tdir = mkdirp(path.join(dir, t.name));
    const argv = (i) => [...t.prefix(), ...CXX_ARGS, '-c', file(t, i), '-o', path.join(tdir, `m${i}.o`)];
    try {
      await t.reset(tdir);
      const r = run(argv(0), { env: t.env, cwd: tdir, logFile: path.join(LOGS, `miss-${t.name}.log`) }); // warm-up (starts servers)
      if (r.error) throw new Error(`warm-up compile failed: ${r.error}`);
      t.zeroStats();
      state.set(t, { argv, tdir, samples: [], cpu: [], spent: 0 });
    } catch (e) {
      results.miss[t.name] = { error: String(e.message ?? e) };
      log(`  ${t.name}: ${e.message ?? e}`);
    }
  }
  for (let i = 1; i <= opt.missRuns && !pastDeadline(); i++) {
    for (const [t, s] of state) {
      if (s.failed || s.spent > opt.missBudgetMs) continue;
      const marker = t.daemonMarker();
      const c0 = childCpuMs() + markedCpuMs(marker);
      const r = run(s.argv(i), { env: t.env, cwd: s.tdir, timeoutMs: 120_000 });
      s.spent += r.ms;
      if (r.error) { s.failed = r.error; continue; }
      s.samples.push(r.ms);
      s.cpu.push(childCpuMs() + markedCpuMs(marker) - c0);
    }
  }
  for (const [t, s] of state) {
    const row = { ...summarize(s.samples), cpuMs: summarize(s.cpu), stats: t.stats() };
    if (s.failed) row.error = s.failed;
    results.miss[t.name] = row;
  }
  const plain = results.miss.plain?.median;
  for (const row of Object.values(results.miss)) {
    if (row.median && plain) { row.ratioToPlain = row.median / plain; row.overheadMs = row.median - plain; }
    const plainCpu = results.miss.plain?.cpuMs?.median;
    if (row.cpuMs?.median != null && plainCpu) row.cpuRatioToPlain = row.cpuMs.median / plainCpu;
  }
  for (const [name, row] of Object.entries(results.miss)) {
    log(`  ${name.padEnd(8)} median ${fmtMs(row.median)}  ratio ${fmtRatio(row.ratioToPlain)}`
      + (row.stats ? `  misses ${row.stats.misses}, hits ${row.stats.hits}` : ''));
  }
}

// ---------------------------------------------------------------- scenario: rebuild
function projects() {
  const lua = path.join(opt.fixtures, 'lua5.4');
  const yaml = path.join(opt.fixtures, 'yaml-cpp');
  const j = String(opt.jobs);
  return [
    {
      name: 'generated-200',
      generated: true,
      setup(dir) { return writeGeneratedTree(path.join(dir, 'tree'), 200); },
      configure() { return null; },
      build: (t) => ['make', `-j${j}`, `CC=${[...t.prefix(), 'gcc'].map(shq).join(' ')}`, `CXX=${[...t.prefix(), 'g++'].map(shq).join(' ')}`],
      clean: () => ['make', 'clean'],
      cwd: (tree) => tree,
      check: (tree) => (fs.readdirSync(path.join(tree, 'build')).filter((f) => f.endsWith('.o')).length === 200 ? null : 'not every object was built'),
    },
    {
      name: 'lua5.4',
      src: lua,
      // one in-tree copy shared by every tool (same paths => comparable hashing)
      setup(dir) {
        const tree = path.join(dir, 'tree');
        if (!fs.existsSync(tree)) fs.cpSync(lua, tree, { recursive: true });
        return tree;
      },
      configure() { return null; },
      build: (t, tree) => ['make', `-j${j}`, `CC=${[...t.prefix(), 'gcc', '-std=gnu99'].map(shq).join(' ')}`, 'linux'],
      clean: (_t, tree) => ['make', 'clean'],
      cwd: (tree) => tree,
      check: (tree) => run([path.join(tree, 'src/lua'), '-e', 'assert(("x"):rep(3) == "xxx")']).error,
    },
    {
      name: 'yaml-cpp',
      src: yaml,
      setup(dir) { return dir; },
      configure: (t, dir) => yamlCppConfigure(yaml, path.join(dir, `build-${t.name}`), t.prefix()),
      build: (t, dir) => yamlCppBuild(path.join(dir, `build-${t.name}`), j),
      clean: (t, dir) => yamlCppClean(path.join(dir, `build-${t.name}`)),
      cwd: (dir) => dir,
      check: () => null,
    },
  ];
}

function ensureFixtures() {
  const need = ['lua5.4', 'yaml-cpp'].filter((p) => !fs.existsSync(path.join(opt.fixtures, p, '.reprise-fixture')));
  if (!need.length) return true;
  if (!opt.fetch) return false;
  log(`fetching fixture sources into ${opt.fixtures} (scripts/fetch-fixture-sources.sh)`);
  const r = run(['bash', path.join(REPO, 'scripts/fetch-fixture-sources.sh'), opt.fixtures],
    { timeoutMs: 600_000, logFile: path.join(LOGS, 'fetch-fixtures.log') });
  if (r.error) log(`  fetch failed: ${r.error} (see ${path.join(LOGS, 'fetch-fixtures.log')})`);
  return !r.error;
}

async function scenarioRebuild() {
  log(`scenario rebuild: clean rebuild of real projects with a warm cache (-j${opt.jobs})`);
  const wantFixtures = !opt.projects || opt.projects.some((n) => n !== 'generated-200');
  const haveFixtures = wantFixtures && ensureFixtures();
  if (wantFixtures && !haveFixtures) {
    results.notes.push(`rebuild of lua5.4 and yaml-cpp skipped: fixture sources missing in ${opt.fixtures} (run scripts/fetch-fixture-sources.sh)`);
    log('  lua5.4, yaml-cpp skipped: no fixture sources');
  }
  const picked = projects().filter((p) => !opt.projects || opt.projects.includes(p.name));
  for (const p of picked.filter((p) => p.generated || haveFixtures)) {
    if (pastDeadline()) { results.notes.push(`rebuild ${p.name}: skipped (--max-minutes reached)`); continue; }
    const pdir = fresh(path.join(WORK, 'rebuild', p.name));
    const work = p.setup(pdir);
    const cwd = p.cwd(work);
    const res = (results.rebuild[p.name] = {});
    const logFile = (t) => path.join(LOGS, `rebuild-${p.name}-${t.name}.log`);
    /** run one build step; returns {ms, cpuMs} where cpuMs = build tree + tool daemon CPU */
    const step = (t, argv, what, timeoutMs = 900_000) => {
      const marker = t.daemonMarker();
      const c0 = childCpuMs() + markedCpuMs(marker);
      const r = run(argv, { env: t.env, cwd, timeoutMs, logFile: logFile(t) });
      if (r.error) throw new Error(`${what} failed: ${r.error} (see ${logFile(t)})`);
      return { ms: r.ms, cpuMs: childCpuMs() + markedCpuMs(marker) - c0 };
    };
    await sleep(2100); // freshly copied tree: let ctimes age (ccache direct mode)

    // 1. per tool: fresh cache, configure; then cold builds (every tool's cache emptied before each),
    // an untimed warm-up round in a fixed order, then rounds in rotated order, plain in every round.
    const ready = [];
    for (const t of usable()) {
      if (pastDeadline()) { res[t.name] = { error: 'skipped (--max-minutes reached)' }; continue; }
      const row = (res[t.name] = { warmSamples: [], warmCpu: [] });
      try {
        await t.reset(path.join(pdir, `tool-${t.name}`));
        const conf = p.configure(t, pdir);
        if (conf) step(t, conf, 'configure', 300_000);
        ready.push(t);
      } catch (e) {
        row.error = String(e.message ?? e);
        log(`  ${p.name} ${t.name.padEnd(8)} ERROR ${row.error}`);
      }
    }
    const coldBuild = async (t) => {
      step(t, p.clean(t, work), 'clean');
      await t.clearCache(opt.coldDaemon);
      t.zeroStats();
      const c = step(t, p.build(t, work), 'cold build');
      // Work the daemon leaves for idle time (Reprise's fallback copies) is the build's too: counted, and shown apart.
      const idle0 = markedCpuMs(t.daemonMarker());
      await t.idle();
      const idleCpuMs = markedCpuMs(t.daemonMarker()) - idle0;
      const st = t.stats();
      if (st?.hits) throw new Error(`not a cold build: ${st.hits} hits`);
      const bad = p.check(work);
      if (bad) throw new Error(`built program does not run: ${bad}`);
      return { ms: c.ms, buildCpuMs: c.cpuMs, idleCpuMs, cpuMs: c.cpuMs + idleCpuMs };
    };
    const logCold = (t, what, s) => log(`  ${p.name} ${t.name.padEnd(8)} ${what} ${fmtS(s.ms)} (cpu ${fmtS(s.buildCpuMs)}${s.idleCpuMs ? `, then ${fmtS(s.idleCpuMs)} while idle` : ''})`);
    const warmup = await rotatedRounds(ready, 1, coldBuild, (t, _r, s) => { res[t.name].coldFirst = s; logCold(t, 'cold (warm-up)', s); });
    const cold = await rotatedRounds(ready.filter((t) => !warmup.errors[t.name]), pastDeadline() ? 0 : opt.coldReps, coldBuild,
      (t, r, s) => logCold(t, `cold #${r + 1}`, s));
    const live = [];
    for (const t of ready) {
      const row = res[t.name];
      row.error = warmup.errors[t.name] ?? cold.errors[t.name];
      if (row.error) { log(`  ${p.name} ${t.name.padEnd(8)} ERROR ${row.error}`); continue; }
      row.coldSamples = cold.samples[t.name];
      row.coldMs = median(row.coldSamples.map((s) => s.ms));
      row.coldCpuMs = median(row.coldSamples.map((s) => s.cpuMs));
      row.coldIdleCpuMs = median(row.coldSamples.map((s) => s.idleCpuMs));
      step(t, p.clean(t, work), 'clean');
      t.zeroStats();
      live.push(t);
    }
    for (const t of live) {
      const row = res[t.name];
      row.coldRatio = roundRatios(row.coldSamples, res.plain?.coldSamples ?? [], (s) => s.ms);
      row.coldCpuRatio = roundRatios(row.coldSamples, res.plain?.coldSamples ?? [], (s) => s.cpuMs);
    }
    // 2. timed clean rebuilds, interleaved across tools, order rotated each repetition
    for (let rep = 0; rep < opt.rebuildReps && !pastDeadline(); rep++) {
      const order = live.map((_, i) => live[(i + rep) % live.length]);
      for (const t of order) {
        const row = res[t.name];
        if (row.error) continue;
        try {
          step(t, p.clean(t, work), 'clean');
          const w = step(t, p.build(t, work), t.name === 'plain' ? 'plain rebuild' : 'warm rebuild');
          row.warmSamples.push(w.ms);
          row.warmCpu.push(w.cpuMs);
          log(`  ${p.name} ${t.name.padEnd(8)} ${t.name === 'plain' ? 'rebuild' : 'warm'} #${rep + 1} ${fmtS(w.ms)} (cpu ${fmtS(w.cpuMs)})`);
        } catch (e) {
          row.error = String(e.message ?? e);
        }
      }
    }
    for (const t of live) {
      const row = res[t.name];
      row.warm = summarize(row.warmSamples);
      row.warmCpuMs = summarize(row.warmCpu);
      row.stats = t.stats();
    }
    const base = res.plain?.warm?.median;
    const baseCpu = res.plain?.warmCpuMs?.median;
    for (const row of Object.values(res)) {
      if (base && row.warm?.median) row.warmRatioToPlain = row.warm.median / base;
      if (baseCpu && row.warmCpuMs?.median != null) row.warmCpuRatioToPlain = row.warmCpuMs.median / baseCpu;
      // The method before session 10, kept for comparison only: the first cold build (fixed order, right
      // after the copy, idle work left out) against plain's warm-rebuild median.
      if (baseCpu && row.coldFirst) row.coldCpuRatioOldMethod = row.coldFirst.buildCpuMs / baseCpu;
    }
    const old = Object.entries(res).filter(([n, r]) => n !== 'plain' && r.coldCpuRatioOldMethod != null)
      .map(([n, r]) => `${n} ${fmtRatio(r.coldCpuRatioOldMethod)}`);
    if (old.length) results.notes.push(`${p.name}: cold CPU / plain by the method before session 10 (first cold build, fixed order, idle work left out, over plain's warm-rebuild median): ${old.join(', ')}`);
    for (const t of cacheTools()) t.stop(); // the next project starts fresh servers
  }
}

// ---------------------------------------------------------------- scenarios in their own modules
// bench/rust.mjs and bench/hermetic.mjs also run on their own; here they add their rows to this run's report.
async function scenarioRust() {
  log('scenario rust: clean cargo build of test-fixtures/rust-workspace (bench/rust.mjs)');
  const { runRustBench } = await import('./rust.mjs');
  const r = await runRustBench({ quick: opt.quick, jobs: opt.jobs, work: path.join(WORK, 'rust'), log: (...a) => log(`  ${a.join(' ')}`) });
  results.rust = r;
  log('scenario rust: a second checkout served from the first one\'s entries (bench/rust-checkouts.mjs)');
  const { runRustCheckoutsBench } = await import('./rust-checkouts.mjs');
  try {
    results.rustCheckouts = await runRustCheckoutsBench({ jobs: opt.jobs, work: path.join(WORK, 'rust-checkouts'), log: (...a) => log(`  ${a.join(' ')}`) });
  } catch (err) {
    log(`  rust-checkouts failed: ${err.message}`);
  }
}

async function scenarioHermetic() {
  log('scenario hermetic: a miss compiled in each sandbox, and toolchain packaging (bench/hermetic.mjs)');
  const { hermeticBench, hermeticMarkdown } = await import('./hermetic.mjs');
  const rows = await hermeticBench({ quick: opt.quick, work: path.join(WORK, 'hermetic'), log: (...a) => log(`  ${a.join(' ')}`) });
  results.hermetic = { rows, markdown: hermeticMarkdown(rows) };
}

async function scenarioHitRatio() {
  log('scenario hit-ratio: a hit against a ccache hit, alternating and in blocks, idle and loaded (bench/hit-ratio.mjs)');
  const { hitRatioBench, hitRatioMarkdown } = await import('./hit-ratio.mjs');
  const r = await hitRatioBench({ quick: opt.quick, work: path.join(WORK, 'hit-ratio'), log: (...a) => log(`  ${a.join(' ')}`) });
  results.hitRatio = { ...r, markdown: hitRatioMarkdown(r) };
}

async function scenarioRemote() {
  log('scenario remote: warm rebuilds served from each remote level alone (bench/remote.mjs)');
  const { remoteBench, remoteMarkdown } = await import('./remote.mjs');
  const r = await remoteBench({ quick: opt.quick, jobs: opt.jobs, work: path.join(WORK, 'remote'), log: (...a) => log(`  ${a.join(' ')}`) });
  results.remote = { ...r, markdown: remoteMarkdown(r) };
}

async function scenarioNpmBin() {
  log('scenario npm-bin: a hit through node_modules/.bin/reprise after npm install, vs the native client alone and ccache (bench/npm-bin.mjs)');
  const { npmBinBench, npmBinMarkdown } = await import('./npm-bin.mjs');
  const r = await npmBinBench({ quick: opt.quick, work: path.join(WORK, 'npm-bin'), log: (...a) => log(`  ${a.join(' ')}`) });
  results.npmBin = { ...r, markdown: npmBinMarkdown(r) };
}

async function scenarioFarmScheduler() {
  log('scenario farm-scheduler: allocations/s with 100 builders and 32 clients, scheduler on one core (bench/farm-scheduler.mjs)');
  const { farmSchedulerBench, farmSchedulerMarkdown } = await import('./farm-scheduler.mjs');
  const r = await farmSchedulerBench({ quick: opt.quick, work: path.join(WORK, 'farm-scheduler'), log: (...a) => log(`  ${a.join(' ')}`) });
  results.farmScheduler = { ...r, markdown: farmSchedulerMarkdown(r) };
}

async function scenarioFarm() {
  log('scenario farm: the farm\'s own cost per job, and a clean build on two pinned builders (bench/farm.mjs)');
  const { farmBench, farmMarkdown } = await import('./farm.mjs');
  const rows = await farmBench({ quick: opt.quick, work: path.join(WORK, 'farm'), log: (...a) => log(`  ${a.join(' ')}`) });
  results.farm = { rows, markdown: farmMarkdown(rows) };
}

// ---------------------------------------------------------------- formatting
function fmtMs(x) { const a = Math.abs(x); return x == null || !Number.isFinite(x) ? '–' : a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2); }
function fmtS(ms) { return ms == null ? '–' : `${(ms / 1000).toFixed(2)} s`; }
function fmtRatio(x) { return x == null ? '–' : `${x.toFixed(x < 0.1 ? 3 : 2)}×`; }
function fmtRange(r) { return r == null ? '–' : `${r.median.toFixed(3)}× (${r.min.toFixed(3)}–${r.max.toFixed(3)})`; }
function fmtStats(s) {
  if (!s) return '';
  if (s.hits == null && s.misses == null) return s.detail || '';
  return `hits ${s.hits ?? '?'} / misses ${s.misses ?? '?'}${s.detail ? ` (${s.detail})` : ''}`;
}
function unavailableRow(t) { return `${t.name}: ${t.reason}`; }

function markdown() {
  const L = [];
  const m = results.meta;
  L.push(`# Reprise benchmark — ${m.date}`, '');
  L.push(`Machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, load avg at start ${m.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${(m.loadavgAtEnd ?? []).map((x) => x.toFixed(2)).join(' ')}; ${m.totalSeconds?.toFixed(0)} s; node ${m.node}; -j${opt.jobs}${opt.quick ? '; --quick' : ''}`);
  L.push(`Versions: ${Object.entries(m.versions).map(([k, v]) => `${k}: ${v}`).join('; ')}`, '');
  const missing = tools.filter((t) => !t.available);

  if (opt.only.includes('hit')) {
    L.push(`## Warm hit, per call: \`g++ -std=c++17 -O2 -c small.cpp\` (ms; timer: ${m.timer})`, '');
    L.push('| tool | calls | min | median | max | spread | ratio to plain | CPU/call client + daemon | cache stats (timed calls) |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const [k, s] of Object.entries(results.noise)) {
      if (s.error) { L.push(`| _noise: ${k}_ | | | | | | | | error: ${s.error} |`); continue; }
      L.push(`| _noise: ${k}_ | ${s.n} | ${fmtMs(s.min)} | ${fmtMs(s.median)} | ${fmtMs(s.max)} | ${s.spreadPct.toFixed(0)}% | | | |`);
    }
    for (const [name, r] of Object.entries(results.hit)) {
      if (r.error && !r.n) { L.push(`| ${name} | | | | | | | | error: ${r.error} |`); continue; }
      const cpu = r.clientCpuMsPerCall == null ? '–' : `${fmtMs(r.clientCpuMsPerCall)}${r.daemonCpuMsPerCall == null ? '' : ` + ${fmtMs(r.daemonCpuMsPerCall)}`}`;
      L.push(`| ${name} | ${r.n} | ${fmtMs(r.min)} | ${fmtMs(r.median)} | ${fmtMs(r.max)} | ${r.spreadPct.toFixed(0)}% | ${name === 'plain' ? '1' : fmtRatio(r.ratioToPlain)} | ${cpu} | ${fmtStats(r.stats)}${r.note ? ` ${r.note}` : ''}${r.error ? ` error: ${r.error}` : ''} |`);
    }
    for (const t of missing) L.push(`| ${unavailableRow(t)} | | | | | | | | |`);
    L.push('');
    if (tools.some((t) => t.name === 'reprise')) {
      const rp = results.reprise;
      if (!tools.find((t) => t.name === 'reprise').available) L.push('Reprise daemon vs client: reprise: not built', '');
      else if (rp && rp.perCallMedianMs != null) {
        L.push('### Reprise: daemon time per hit vs client', '');
        L.push('| per-call median | daemon hitServiceMs | client + transport (median − hitServiceMs) | node start-up (`node -e 0`) | CPU/call client | CPU/call daemon |');
        L.push('|---:|---:|---:|---:|---:|---:|');
        L.push(`| ${fmtMs(rp.perCallMedianMs)} | ${rp.hitServiceMs == null ? 'n/a (not in --show-stats --json)' : fmtMs(rp.hitServiceMs)} | ${fmtMs(rp.clientAndTransportMs)} | ${fmtMs(rp.nodeStartupMedianMs)} | ${fmtMs(rp.clientCpuMsPerCall)} | ${fmtMs(rp.daemonCpuMsPerCall)} |`, '');
      }
    }
  }
  if (opt.only.includes('miss')) {
    L.push(`## Miss, empty cache, unique source per run (ms; ${opt.missRuns} runs)`, '');
    L.push('| tool | runs | min | median | max | ratio to plain | overhead (median − plain) | CPU/run client + daemon (median) | CPU / plain | cache stats |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const [name, r] of Object.entries(results.miss)) {
      if (r.error && !r.n) { L.push(`| ${name} | | | | | | | | | error: ${r.error} |`); continue; }
      const isPlain = name === 'plain';
      L.push(`| ${name} | ${r.n} | ${fmtMs(r.min)} | ${fmtMs(r.median)} | ${fmtMs(r.max)} | ${isPlain ? '1' : fmtRatio(r.ratioToPlain)} | ${isPlain ? '' : `${r.overheadMs >= 0 ? '+' : ''}${fmtMs(r.overheadMs)} ms`} | ${fmtMs(r.cpuMs?.median)} | ${isPlain ? '1' : fmtRatio(r.cpuRatioToPlain)} | ${fmtStats(r.stats)}${r.error ? ` error: ${r.error}` : ''} |`);
    }
    for (const t of missing) L.push(`| ${unavailableRow(t)} | | | | | | | | | |`);
    L.push('');
  }
  if (opt.only.includes('rebuild')) {
    L.push(`## Cold build and clean rebuild, warm cache (-j${opt.jobs}; cold = median of ${opt.coldReps} rounds, cache emptied before each, daemon ${opt.coldDaemon}, ratios to plain's build of the same round: median (min–max); warm = median of ${opt.rebuildReps})`, '');
    L.push('| project | tool | cold build | cold / plain | CPU cold / plain (idle work included) | warm rebuild (min–max) | warm / plain | CPU warm (build + daemon) | CPU / plain | cache stats (sum over the warm rebuilds) |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const [proj, rows] of Object.entries(results.rebuild)) {
      for (const [name, r] of Object.entries(rows)) {
        if (r.error && !r.warm?.n) { L.push(`| ${proj} | ${name} | ${fmtS(r.coldMs)} | | | | | | | error: ${r.error} |`); continue; }
        const isPlain = name === 'plain';
        L.push(`| ${proj} | ${name} | ${fmtS(r.coldMs)} | ${isPlain ? '' : fmtRange(r.coldRatio)} | ${isPlain ? fmtS(r.coldCpuMs) : fmtRange(r.coldCpuRatio)}${r.coldIdleCpuMs ? ` (${fmtS(r.coldIdleCpuMs)} idle)` : ''} | ${fmtS(r.warm?.median)} (${fmtS(r.warm?.min)}–${fmtS(r.warm?.max)})${isPlain ? ' baseline' : ''} | ${isPlain ? '1' : fmtRatio(r.warmRatioToPlain)} | ${fmtS(r.warmCpuMs?.median)} | ${isPlain ? '1' : fmtRatio(r.warmCpuRatioToPlain)} | ${fmtStats(r.stats)}${r.error ? ` error: ${r.error}` : ''} |`);
      }
      for (const t of missing) L.push(`| ${proj} | ${unavailableRow(t)} | | | | | | | | |`);
    }
    L.push('');
  }
  if (results.npmBin?.markdown) L.push(results.npmBin.markdown.trim(), '');
  if (results.hitRatio?.markdown) L.push(results.hitRatio.markdown.trim(), '');
  if (results.rust?.markdown) L.push(results.rust.markdown.trim(), '');
  if (results.rustCheckouts?.markdown) L.push(results.rustCheckouts.markdown.trim(), '');
  if (results.hermetic?.markdown) L.push(results.hermetic.markdown.trim(), '');
  if (results.remote?.markdown) L.push(results.remote.markdown.trim(), '');
  if (results.farmScheduler?.markdown) L.push(results.farmScheduler.markdown.trim(), '');
  if (results.farm?.markdown) L.push(results.farm.markdown.trim(), '');
  for (const n of results.notes) L.push(`- ${n}`);
  return L.join('\n') + '\n';
}

// ---------------------------------------------------------------- main
async function main() {
  log(`work dir ${WORK}; tools: ${tools.map((t) => `${t.name}${t.available ? '' : ` (${t.reason})`}`).join(', ')}`);
  const scenarios = { hit: scenarioHit, 'npm-bin': scenarioNpmBin, 'hit-ratio': scenarioHitRatio, miss: scenarioMiss, rebuild: scenarioRebuild, rust: scenarioRust, hermetic: scenarioHermetic, remote: scenarioRemote, 'farm-scheduler': scenarioFarmScheduler, farm: scenarioFarm };
  for (const s of SCENARIOS) {
    if (!opt.only.includes(s)) continue;
    if (pastDeadline()) { results.notes.push(`${s}: skipped (--max-minutes ${opt.maxMinutes} reached)`); continue; }
    try {
      await scenarios[s]();
    } catch (e) {
      results.notes.push(`${s}: aborted: ${e.message ?? e}`);
      log(`${s}: aborted: ${e.stack ?? e}`);
    }
    for (const t of cacheTools()) t.stop();
  }
  stopAll();
  results.meta.totalSeconds = (Date.now() - T0) / 1000;
  results.meta.loadavgAtEnd = os.loadavg();
  const md = markdown();
  process.stdout.write('\n' + md);
  mkdirp(path.dirname(opt.json));
  fs.writeFileSync(opt.json, JSON.stringify(roundDeep({ ...results, markdown: md }), null, 2) + '\n');
  log(`wrote ${path.relative(process.cwd(), opt.json) || opt.json}; logs in ${LOGS}`);
}

main().catch((e) => {
  log(`fatal: ${e.stack ?? e}`);
  stopAll();
  process.exit(1);
});
