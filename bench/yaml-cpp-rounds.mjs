// What bench/farm-yaml-cpu.mjs and bench/builder-yaml-cpu.mjs share: their arguments, this checkout and another
// (--vs) each with yaml-cpp configured in a directory of its own, and a farm's warm-up until both builders hold the
// C and C++ toolchains.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { client, run } from './farm.mjs';
import { writeGeneratedTree } from './generated-tree.mjs';
import { yamlCppConfigure } from './yaml-cpp-project.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The command line's --name=value and --flag arguments, the common ones read, and the sides configured (work emptied). */
export function yamlCppRounds(name) {
  const args = Object.fromEntries(process.argv.slice(2).map((a) => { const i = a.indexOf('='); return i < 0 ? [a.replace(/^--/, ''), true] : [a.slice(2, i), a.slice(i + 1)]; }));
  const work = path.resolve(args.work ?? path.join(REPO, '.bench-work', name));
  const fixtures = path.resolve(args.fixtures ?? path.join(REPO, '.fixtures'));
  const src = path.join(fixtures, 'yaml-cpp');
  if (!fs.existsSync(path.join(src, '.reprise-fixture'))) throw new Error(`${src} is missing: run scripts/fetch-fixture-sources.sh ${fixtures}`);
  const sides = [{ label: 'this', repo: REPO }, ...(typeof args.vs === 'string' ? [{ label: 'other', repo: path.resolve(args.vs) }] : [])];
  fs.rmSync(work, { recursive: true, force: true });
  for (const side of sides) {
    side.dir = path.join(work, side.label);
    side.build = path.join(side.dir, 'build');
    fs.mkdirSync(side.dir, { recursive: true });
    const r = run(yamlCppConfigure(src, side.build, client(side.repo)), { cwd: side.dir });
    if (r.error) throw new Error(`cmake configure: ${r.error}`);
  }
  return {
    args, work, sides,
    rounds: Number(args.rounds ?? 3),
    jobs: Number(args.jobs ?? 8),
    log: (...a) => process.stderr.write(`[${name}] ${a.join(' ')}\n`),
    load: () => os.loadavg()[0].toFixed(1),
  };
}

/**
 * Builds small generated trees through the farm (with `env`) until both builders say they hold two toolchains
 * (at most six tries), compiling with `cc` and `cxx` behind the side's launcher.
 */
export async function warmUpBuilders(side, env, round, { cc, cxx, log }) {
  const launcher = client(side.repo).join(' ');
  for (let w = 1; w <= 6; w++) {
    const warm = path.join(side.dir, `warm${round}-${w}`);
    writeGeneratedTree(warm, 16);
    run(['make', '-j8', `CC=${launcher} ${cc}`, `CXX=${launcher} ${cxx}`], { cwd: warm, env });
    await new Promise((r) => setTimeout(r, 1500));
    const held = JSON.parse(run([...client(side.repo), '--dist-status', '--json'], { env, cwd: side.dir }).stdout || '{}');
    const pools = held.scheduler?.pools ?? held.farm?.scheduler?.pools ?? held.pools ?? [];
    const counts = pools.flatMap((p) => p.builders).map((b) => b.toolchains?.length ?? 0);
    log?.(`warm-up ${w}: toolchains per builder ${counts.join(', ')}`);
    if (counts.length === 2 && counts.every((n) => n >= 2)) break;
  }
}
