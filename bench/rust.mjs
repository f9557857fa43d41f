#!/usr/bin/env node
// Rust benchmark: a clean `cargo build` of test-fixtures/rust-workspace (6 members on 36 crates
// from Debian's librust-*-dev packages, 15 build scripts) plain, through Reprise cold and warm,
// and through sccache (Debian's) cold and warm, in one run; times as ratios to the plain build.
//
//   node bench/rust.mjs [--quick] [--reps=N] [--jobs=2] [--work=DIR] [--tools=plain,reprise,reprise-node,sccache]
//                       [--baseline=DIR] [--json=PATH] [--timeout-minutes=N]
//
// Every timed build is `cargo clean && cargo build` (only the build is timed; CPU = user+system of cargo and
// everything it waited for, plus, for Reprise, the daemon and its compiler launcher during the build; "daemon CPU"
// = the daemon process's own user+system during the build, not the compiles: Reprise's own work apart from its clients). Cold = first build
// into a fresh cache dir; warm = the build after it; for Reprise, "cold, fresh daemon, toolchain known" = a cold
// build after --clear and a daemon restart (entries gone, the toolchain's persisted digests kept). With --reps=N the plain, warm and
// "cold, fresh daemon" builds are repeated N times, interleaved, and the median is reported. --baseline=DIR adds the tool
// "reprise-baseline": Reprise of another checkout (built with npm run build), measured in the same run for a before/after. Hits/misses come from each tool's own
// stats (zeroed before each timed build).
//
// reprise: RUSTC_WRAPPER=packages/core/dist/native/reprise-native when it was built (what npm installs as
// `reprise`: the native executable itself), else packages/core/bin/reprise (the sh launcher). reprise-node: a wrapper script
// running the Node client. Each tool gets fresh REPRISE_DIR/REPRISE_RUNTIME_DIR or SCCACHE_DIR
// (+ a private SCCACHE_SERVER_PORT); servers are stopped at the end. CARGO_HOME is private too.
// Needs cargo (rustup's) and the Debian crate packages: scripts/setup-rust-fixtures.sh --with-sccache
// installs them (as root) and is run first.
//
// As a module: `import { runRustBench } from './rust.mjs'`;
//   runRustBench({ quick, jobs, work, log, reps, tools, timeoutMinutes }) → { rows, markdown, meta }
//   rustBench({ quick, log, ... }) → rows
// quick: one repetition (default 3 without it, 1 with it; --reps overrides).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SETUP = path.join(REPO, 'scripts', 'setup-rust-fixtures.sh');

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};

export function baseEnv() {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !/^(CCACHE_|SCCACHE_|REPRISE_|CARGO_|RUSTC_WRAPPER$|RUSTC_WORKSPACE_WRAPPER$|RUSTFLAGS$)/.test(k) &&
        !['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL'].includes(k),
    ),
  );
}

export function run(argv, { env = {}, cwd, timeoutMs = 600_000, log } = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), {
    cwd,
    env: { ...baseEnv(), ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (log) fs.appendFileSync(log, `\n$ ${argv.join(' ')}   (cwd ${cwd ?? process.cwd()})\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  let error = null;
  if (r.error) error = r.error.code === 'ETIMEDOUT' ? `timed out after ${timeoutMs} ms` : String(r.error.message);
  else if (r.status !== 0) error = `exit ${r.status ?? r.signal}`;
  return { ms, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime+stime+cutime+cstime of a process, in seconds (0 when gone). */
function procCpu(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name: state is [0], utime [11], stime [12], cutime [13], cstime [14].
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
  } catch { return 0; }
}

/** utime+stime of a process alone (not its children), in seconds (0 when gone). */
function ownCpu(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch { return 0; }
}

/** A process's CPU with its children still running (the daemon's compiler launcher, whose waited-for compiles it holds). */
function treeCpu(pid) {
  let total = procCpu(pid);
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += procCpu(Number(e));
    } catch { /* gone */ }
  }
  return total;
}

/** `sh -c '...; times'`: the user+system seconds of the command and everything it waited for. */
function childrenCpu(stderr) {
  const line = stderr.trim().split('\n').pop() ?? '';
  const m = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((x) => Number(x[1]) * 60 + Number(x[2]));
  return m.length === 2 ? m[0] + m[1] : null;
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
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

export function fresh(p) {
  fs.rmSync(p, { recursive: true, force: true });
  fs.mkdirSync(p, { recursive: true });
  return p;
}

export function findCargo() {
  const onPath = which('cargo');
  if (onPath) return onPath;
  const rustup = path.join(os.homedir(), '.cargo', 'bin', 'cargo');
  return fs.existsSync(rustup) ? rustup : null;
}

class Plain {
  name = 'plain';
  wrapper = null;
  env = {};
  async reset() {}
  zeroStats() {}
  stats() { return null; }
  stop() {}
}

export class Reprise {
  /** `repo`: the checkout whose Reprise runs (default: this one). */
  constructor(name, work, node, repo = REPO) {
    this.name = name;
    this.node = node;
    this.work = work;
    const launcher = path.join(repo, 'packages', 'core', 'bin', 'reprise');
    const native = path.join(repo, 'packages', 'core', 'dist', 'native', 'reprise-native');
    const nodeClient = path.join(repo, 'packages', 'core', 'dist', 'bin', 'reprise.js');
    // The plugin's bundle, which its package exports (scripts/bundle-plugins.mjs); tsc's output in checkouts from before it.
    const bundled = path.join(repo, 'packages', 'plugin-rustc', 'dist', 'bundle', 'index.js');
    this.plugin = fs.existsSync(bundled) ? bundled : path.join(repo, 'packages', 'plugin-rustc', 'dist', 'index.js');
    if (node) {
      this.wrapper = path.join(work, `${name}-wrapper`);
      fs.writeFileSync(this.wrapper, `#!/bin/sh\nexec '${process.execPath}' '${nodeClient}' "$@"\n`);
      fs.chmodSync(this.wrapper, 0o755);
    } else this.wrapper = fs.existsSync(native) ? native : launcher;
    this.client = node ? [process.execPath, nodeClient] : [this.wrapper];
    this.available = fs.existsSync(nodeClient) && fs.existsSync(this.plugin);
    this.reason = 'not built (npm run build)';
    this.rt = null;
  }
  async reset() {
    this.stop();
    // A short runtime dir: the daemon's Unix socket path must fit in 108 bytes.
    this.rt = fs.mkdtempSync(path.join(os.tmpdir(), 'reprise-bench-rt-'));
    this.env = {
      REPRISE_DIR: fresh(path.join(this.work, this.name, 'cache')),
      REPRISE_RUNTIME_DIR: this.rt,
      REPRISE_PLUGINS: this.plugin,
      REPRISE_IDLE_TIMEOUT: '900',
    };
  }
  /** The daemon's CPU and its launcher's (compiles included), in seconds; 0 before it started. */
  daemonCpu() {
    const dir = this.rt && fs.readdirSync(this.rt).find((e) => /^tmp-\d+$/.test(e));
    return dir ? treeCpu(Number(dir.slice(4))) : 0;
  }
  /** The daemon's own CPU (not the compiles it runs), in seconds: Reprise's own work, less noisy than the build's total. */
  daemonOwnCpu() {
    const dir = this.rt && fs.readdirSync(this.rt).find((e) => /^tmp-\d+$/.test(e));
    return dir ? ownCpu(Number(dir.slice(4))) : 0;
  }
  zeroStats() { run([...this.client, '--zero-stats'], { env: this.env }); }
  stats() {
    const r = run([...this.client, '--show-stats', '--json'], { env: this.env });
    try {
      const s = JSON.parse(r.stdout).stats;
      return { hits: s.hitsDirect + s.hitsPreprocessor, misses: s.misses, notCacheable: Object.values(s.notCacheable ?? {}).reduce((a, b) => a + b, 0) };
    } catch { return null; }
  }
  /** Empties the cache (entries only: file-digests.json stays) and stops the daemon: the next build is a cold one by a fresh daemon. */
  clearEntries() {
    run([...this.client, '--clear'], { env: this.env, timeoutMs: 60_000 });
    run([...this.client, '--stop-server'], { env: this.env, timeoutMs: 30_000 });
  }
  stop() {
    if (!this.rt) return;
    run([...this.client, '--stop-server'], { env: this.env, timeoutMs: 30_000 });
    fs.rmSync(this.rt, { recursive: true, force: true });
    this.rt = null;
  }
}

class Sccache {
  constructor(work) {
    this.name = 'sccache';
    this.work = work;
    this.wrapper = which('sccache');
    this.available = !!this.wrapper;
    this.reason = 'not installed (apt-get install sccache)';
    this.running = false;
    if (this.available) this.version = run([this.wrapper, '--version']).stdout.trim();
  }
  async reset() {
    this.stop();
    this.env = {
      SCCACHE_DIR: fresh(path.join(this.work, 'sccache', 'cache')),
      SCCACHE_SERVER_PORT: String(await freePort()),
      SCCACHE_IDLE_TIMEOUT: '900',
      SCCACHE_CACHE_SIZE: '10G',
    };
    const r = run([this.wrapper, '--start-server'], { env: this.env, timeoutMs: 30_000 });
    if (r.error) throw new Error(`sccache --start-server: ${r.error}: ${r.stderr.trim()}`);
    this.running = true;
  }
  zeroStats() { run([this.wrapper, '--zero-stats'], { env: this.env }); }
  stats() {
    const r = run([this.wrapper, '--show-stats', '--stats-format', 'json'], { env: this.env });
    try {
      const j = JSON.parse(r.stdout).stats;
      const sum = (o) => Object.values(o?.counts ?? {}).reduce((a, b) => a + b, 0);
      return { hits: sum(j.cache_hits), misses: sum(j.cache_misses), notCacheable: j.requests_not_cacheable ?? null };
    } catch { return null; }
  }
  stop() {
    if (!this.running) return;
    run([this.wrapper, '--stop-server'], { env: this.env, timeoutMs: 30_000 });
    this.running = false;
  }
}

/**
 * Runs the Rust scenario. Returns rows `{ tool, phase, ms, ratio, hits, misses, notCacheable, runs }`
 * and a markdown table. Throws only when the workspace cannot be set up or the plain build fails.
 */
export async function runRustBench(options = {}) {
  const o = {
    reps: options.quick ? 1 : 3,
    jobs: 2,
    work: path.join(REPO, '.bench-work', 'rust'),
    tools: ['plain', 'reprise', 'sccache'],
    timeoutMinutes: 20,
    log: (...a) => process.stderr.write(`[bench rust] ${a.join(' ')}\n`),
    ...options,
  };
  const deadline = Date.now() + o.timeoutMinutes * 60_000;
  fs.mkdirSync(o.work, { recursive: true });
  const logFile = path.join(o.work, 'builds.log');
  fs.writeFileSync(logFile, '');
  const cargo = findCargo();
  if (!cargo) throw new Error('cargo not found (PATH or ~/.cargo/bin)');
  const ws = path.join(o.work, 'ws');
  const setup = run(['bash', SETUP, ...(o.tools.includes('sccache') ? ['--with-sccache'] : []), ws], { log: logFile });
  if (setup.error) throw new Error(`${SETUP}: ${setup.error}\n${setup.stderr}`);
  const cargoHome = fresh(path.join(o.work, 'cargo-home'));
  const cargoEnv = {
    PATH: `${path.dirname(cargo)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    CARGO_HOME: cargoHome,
    CARGO_BUILD_JOBS: String(o.jobs),
    CARGO_INCREMENTAL: '0',
    CARGO_TERM_COLOR: 'never',
  };
  const rustc = run([cargo, '--version'], { env: cargoEnv }).stdout.trim();

  const tools = o.tools.map((t) =>
    t === 'plain' ? new Plain() : t === 'reprise' ? new Reprise('reprise', o.work, false) : t === 'reprise-node' ? new Reprise('reprise-node', o.work, true) : t === 'sccache' ? new Sccache(o.work) : null,
  ).filter(Boolean);
  if (o.baseline) tools.push(new Reprise('reprise-baseline', o.work, false, o.baseline));
  if (!tools.some((t) => t.name === 'plain')) tools.unshift(new Plain());

  const build = (tool) => {
    if (Date.now() > deadline) return { error: 'time budget used up' };
    const env = { ...cargoEnv, ...tool.env, ...(tool.wrapper ? { RUSTC_WRAPPER: tool.wrapper } : {}) };
    const clean = run([cargo, 'clean', '-q'], { env, cwd: ws, log: logFile });
    if (clean.error) return { error: `cargo clean: ${clean.error}` };
    tool.zeroStats();
    const daemonBefore = tool.daemonCpu?.() ?? 0;
    const ownBefore = tool.daemonOwnCpu?.() ?? 0;
    // `times` after the build: the CPU of cargo and everything it waited for (rustc, build scripts, the client).
    const r = run(['sh', '-c', `'${cargo}' build; s=$?; times >&2; exit $s`], { env, cwd: ws, log: logFile, timeoutMs: Math.max(60_000, deadline - Date.now()) });
    const children = childrenCpu(r.stderr);
    const cpu = children == null ? null : children + (tool.daemonCpu?.() ?? 0) - daemonBefore;
    const daemon = tool.daemonOwnCpu ? tool.daemonOwnCpu() - ownBefore : null;
    return r.error ? { error: `cargo build: ${r.error}` } : { ms: r.ms, cpu, daemon, stats: tool.stats() };
  };

  const samples = new Map(); // "tool/phase" -> {ms: [], stats}
  const record = (tool, phase, res) => {
    const k = `${tool.name}/${phase}`;
    const s = samples.get(k) ?? { tool: tool.name, phase, ms: [], cpu: [], daemon: [], stats: null, error: null };
    if (res.error) s.error = res.error;
    else {
      s.ms.push(res.ms);
      if (res.cpu != null) s.cpu.push(res.cpu);
      if (res.daemon != null) s.daemon.push(res.daemon);
      s.stats = res.stats;
    }
    samples.set(k, s);
    o.log(`${k}: ${res.error ?? `${(res.ms / 1000).toFixed(1)} s, CPU ${res.cpu?.toFixed(1) ?? '?'} s${res.daemon != null ? ` (daemon ${res.daemon.toFixed(2)} s)` : ''}`}${res.stats ? ` (hits ${res.stats.hits}, misses ${res.stats.misses})` : ''}`);
  };

  const plain = tools.find((t) => t.name === 'plain');
  // Untimed warm-up: cargo's lock file, the page cache, rustup's files.
  o.log('warm-up build');
  const warmup = build(plain);
  if (warmup.error) throw new Error(`plain build failed (${warmup.error}); see ${logFile}`);
  const caches = tools.filter((t) => t.name !== 'plain');
  try {
    record(plain, 'clean build', build(plain));
    for (const t of caches) {
      if (!t.available) {
        record(t, 'cold', { error: t.reason });
        continue;
      }
      await t.reset();
      record(t, 'cold', build(t));
      record(t, 'warm', build(t));
      // What a user's next cold build costs: a fresh daemon and no entries, the toolchain's digests known from before.
      if (t.clearEntries) {
        t.clearEntries();
        record(t, 'cold, fresh daemon, toolchain known', build(t));
      }
    }
    for (let rep = 1; rep < o.reps; rep++) {
      record(plain, 'clean build', build(plain));
      for (const t of caches) if (t.available) record(t, 'warm', build(t));
      for (const t of caches) {
        if (!t.available || !t.clearEntries) continue;
        t.clearEntries();
        record(t, 'cold, fresh daemon, toolchain known', build(t));
      }
    }
  } finally {
    for (const t of caches) t.stop();
  }

  const base = median(samples.get('plain/clean build')?.ms ?? []);
  const baseCpu = median(samples.get('plain/clean build')?.cpu ?? []);
  const rows = [...samples.values()].map((s) => {
    const ms = median(s.ms);
    return {
      tool: s.tool,
      phase: s.phase,
      ms,
      ratio: ms != null && base ? ms / base : null,
      cpu: median(s.cpu),
      cpuRatio: s.cpu.length && baseCpu ? median(s.cpu) / baseCpu : null,
      daemonCpu: s.daemon.length ? median(s.daemon) : null,
      hits: s.stats?.hits ?? null,
      misses: s.stats?.misses ?? null,
      notCacheable: s.stats?.notCacheable ?? null,
      runs: s.ms.length,
      error: s.error,
    };
  });
  const fmt = (r) =>
    r.error && r.ms == null
      ? `| ${r.tool} | ${r.phase} | — | — | — | — | — | ${r.error} |`
      : `| ${r.tool} | ${r.phase} | ${(r.ms / 1000).toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.cpu == null ? '—' : r.cpu.toFixed(1)} | ${r.cpuRatio == null ? '—' : r.cpuRatio.toFixed(2)} | ${r.daemonCpu == null ? '—' : r.daemonCpu.toFixed(2)} | ${r.hits == null ? '—' : `${r.hits} hits, ${r.misses} misses`} |`;
  const meta = { cargo: rustc, jobs: o.jobs, reps: o.reps, cpus: os.cpus().length, sccache: tools.find((t) => t.name === 'sccache')?.version ?? null };
  const markdown = [
    `### Rust: clean \`cargo build\` of test-fixtures/rust-workspace (${meta.cargo}, -j${o.jobs}, median of ${o.reps})`,
    '',
    '| tool | build | wall s | × plain | CPU s | CPU × plain | daemon CPU s | cache |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(fmt),
    '',
  ].join('\n');
  return { rows, markdown, meta };
}

/** The rows of `runRustBench` alone: `[{ tool, phase, ms, ratio, hits, misses, notCacheable, runs, error }]`. */
export async function rustBench(options = {}) {
  return (await runRustBench(options)).rows;
}

function parseCli(argv) {
  const o = {};
  for (const a of argv) {
    const [k, v] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    switch (k) {
      case '--reps': o.reps = Number(v); break;
      case '--quick': o.quick = true; break;
      case '--jobs': o.jobs = Number(v); break;
      case '--work': o.work = path.resolve(v); break;
      case '--tools': o.tools = v.split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--json': o.json = path.resolve(v); break;
      case '--baseline': o.baseline = path.resolve(v); break;
      case '--timeout-minutes': o.timeoutMinutes = Number(v); break;
      case '-h': case '--help':
        process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 25).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
        process.exit(0);
        break;
      default:
        process.stderr.write(`bench/rust.mjs: unknown option ${a}\n`);
        process.exit(2);
    }
  }
  for (const t of o.tools ?? []) if (!['plain', 'reprise', 'reprise-node', 'sccache'].includes(t)) { process.stderr.write(`--tools: unknown tool ${t}\n`); process.exit(2); }
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const cli = parseCli(process.argv.slice(2));
  const result = await runRustBench(cli);
  process.stdout.write(result.markdown);
  if (cli.json) fs.writeFileSync(cli.json, JSON.stringify({ meta: result.meta, rows: result.rows }, null, 2) + '\n');
}
