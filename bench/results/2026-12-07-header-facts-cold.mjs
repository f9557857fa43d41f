// The daemon's own CPU over a cold local yaml-cpp build (fresh daemon, empty cache each round), checkouts alternated
// each round (A B A B ...), with the load average. The daemon's process is read from its threads' schedstat.
//   node 2026-12-07-header-facts-cold.mjs --rounds=4 --fixtures=DIR CHECKOUT...   [PRELOAD=file: NODE_OPTIONS=--require]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { yamlCppBuild, yamlCppConfigure } from '../yaml-cpp-project.mjs';

const args = process.argv.slice(2);
const opt = (n, d) => args.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? d;
const checkouts = args.filter((a) => !a.startsWith('--')).map((d) => path.resolve(d));
const rounds = Number(opt('rounds', 4));
const src = path.resolve(opt('fixtures', '.fixtures'), 'yaml-cpp');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-cold-'));
const run = (argv, o = {}) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 28, ...o });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r;
};
const client = (repo) => [path.join(repo, 'packages', 'core', 'dist', 'native', 'reprise-native')];
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(REPRISE_|MAKEFLAGS|MFLAGS|MAKELEVEL)/.test(k)));
function daemonPid(runtimeDir) {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('daemon/entry.js')) continue;
      if (fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`REPRISE_RUNTIME_DIR=${runtimeDir}`)) return pid;
    } catch { /* gone */ }
  }
  return undefined;
}
const cpuMs = (pid) => fs.readdirSync(`/proc/${pid}/task`).reduce((s, t) => { try { return s + Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6; } catch { return s; } }, 0);
async function idleCpu(pid) {
  let last = cpuMs(pid);
  for (let w = 0; w < 8000; w += 200) { await new Promise((r) => setTimeout(r, 200)); const now = cpuMs(pid); if (now - last < 0.5) return now; last = now; }
  return last;
}
const rows = [];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [...checkouts].reverse() : checkouts;
  for (const repo of order) {
    const dir = path.join(work, `${r}-${checkouts.indexOf(repo)}`);
    const env = { ...baseEnv, REPRISE_DIR: path.join(dir, 'cache'), REPRISE_RUNTIME_DIR: path.join(dir, 'run'), REPRISE_IDLE_TIMEOUT: '300', LC_ALL: 'C', ...(process.env.PRELOAD ? { NODE_OPTIONS: `--require ${process.env.PRELOAD}` } : {}) };
    const build = path.join(dir, 'build');
    run(yamlCppConfigure(src, build, client(repo)), { env });
    run([...client(repo), '--zero-stats'], { env });
    const pid = daemonPid(env.REPRISE_RUNTIME_DIR);
    const before = await idleCpu(pid);
    const load = os.loadavg()[0];
    run(yamlCppBuild(build, 2), { env });
    const after = await idleCpu(pid);
    const s = JSON.parse(run([...client(repo), '--show-stats', '--json'], { env }).stdout).stats;
    run([...client(repo), '--stop-server'], { env });
    const misses = typeof s.misses === 'number' ? s.misses : s.misses?.total ?? JSON.stringify(s.misses);
    const row = { round: r, checkout: repo, load: +load.toFixed(2), loadAfter: +os.loadavg()[0].toFixed(2), daemonMs: +(after - before).toFixed(0), misses };
    rows.push(row);
    console.log(JSON.stringify(row));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
fs.rmSync(work, { recursive: true, force: true });
