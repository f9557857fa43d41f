#!/usr/bin/env node
// CPU of building one farm/hermetic job in-process (core's buildJob), on test-fixtures/bench/small.cpp
// (g++ -std=c++17 -O2 -g, 161 inputs), with a warm hash cache and input store: what the client daemon spends
// per job before anything is sent. Not part of `npm run bench`; cited in docs/jobs.md and docs/dist-design.md.
//
//   node bench/build-job-cpu.mjs [--runs=N] [--ballast-mb=N] [--closure=scan|traced-scan|preprocessing|remembered]
//
// --ballast-mb: memory the process holds, standing for the daemon's size (a fork costs CPU in proportion to it).
// --closure=preprocessing: the job gets the lookup's `-E -MD` list (MissContext.preprocessDeps) and runs no scan.
// --closure=remembered: the job gets that list as a remembered closure (BuildJobOptions.closure, a speculative farm job).
// --closure=traced-scan: the scan runs with GCC's read trace, as @reprise/plugin-gcc sets it up (ClosureScan.listFile):
// a file the hash cache holds under the identity the scan took is not stat'ed.
// Scans are spawned by this process (no daemon launcher here), so --ballast-mb shows what a fork from a large process costs.
// Prints the median CPU per job of this process, and its children's CPU per job (10 ms clock ticks).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { smallCppProject } from './small-cpp-project.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const runs = Number(args.runs ?? 40);
const { buildJob, Engine, FileHashCache, identitiesFromList, InputStore, parseDepFile } = await import(join(REPO, 'packages/core/dist/index.js'));
const traced = args.closure === 'traced-scan';
const gcc = traced ? await import(join(REPO, 'packages/plugin-gcc/dist/index.js')) : undefined;
const readIdentities = traced ? identitiesFromList(new Engine().use(gcc.gccPlugin), 'gcc') : undefined;

const tmp = mkdtempSync(join(tmpdir(), 'reprise-build-job-cpu-'));
try {
  const { proj, src, base } = smallCppProject(tmp);
  let preprocessDeps;
  let remembered;
  if (args.closure === 'preprocessing' || args.closure === 'remembered') {
    execFileSync(base[0], [...base.slice(1), '-E', '-MD', '-MF', join(tmp, 'pp.d'), '-o', '/dev/null']);
    if (args.closure === 'preprocessing') preprocessDeps = readFileSync(join(tmp, 'pp.d'), 'utf8');
    else remembered = parseDepFile(readFileSync(join(tmp, 'pp.d'), 'utf8'), proj);
  }
  // A project's files are older than the hash cache's racy window (2 s): wait it out.
  await new Promise((r) => setTimeout(r, 2500));
  const ballast = Array.from({ length: Number(args['ballast-mb'] ?? 0) }, () => Buffer.alloc(1 << 20, 1));
  const store = new InputStore(join(tmp, 'inputs'));
  const hashes = new FileHashCache();
  const call = (n) => {
    const object = join(proj, 'build', 'x.o');
    const dep = join(tmp, `t${n}.d`);
    const closure = join(tmp, `c${n}.d`);
    const list = join(tmp, `c${n}.reads`);
    const listing = traced ? { setEnv: { LD_PRELOAD: gcc.readTraceLibrary(), REPRISE_READ_TRACE: list }, listFile: list } : {};
    return {
      request: { argv: base, cwd: proj, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, stdoutIsTTY: false, stderrIsTTY: false },
      inv: {
        language: 'c++', sourceFile: src, outputs: [{ role: 'object', path: object }], keyArgs: [], preprocessorOnlyArgs: [],
        compileArgv: [...base, '-c', '-o', object, '-MD', '-MF', dep], dependencies: { depFile: dep, depFileIsTemporary: true },
        closureScan: { argv: [...base, '-M', '-MF', closure], depFile: closure, sameAsPreprocessDeps: true, ...listing }, includeDirs: [], keyEnv: [],
        volatileMarkers: [], dependsOnCwd: false, colorDiagnostics: false, extraInputFiles: [],
      },
    };
  };
  const childTicks = () => {
    let t = 0;
    try {
      for (const pid of readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        t += Number(f[11]) + Number(f[12]);
      }
    } catch { /* none */ }
    return t;
  };
  const samples = [];
  let ticks0 = 0;
  let inputs = 0;
  const WARM = 3;
  for (let i = 0; i < runs + WARM; i++) {
    const { request, inv } = call(i);
    if (i === WARM) ticks0 = childTicks();
    const c0 = process.cpuUsage();
    const plan = await buildJob(request, inv, 'f'.repeat(64), store, hashes, undefined, { preprocessDeps, ...(remembered ? { closure: remembered } : {}), ...(readIdentities ? { readIdentities } : {}) });
    const c = process.cpuUsage(c0);
    if (!plan.ok) throw new Error(`${plan.reason}: ${plan.detail}`);
    inputs = plan.job.inputs.length;
    if (i >= WARM) samples.push((c.user + c.system) / 1000);
  }
  samples.sort((a, b) => a - b);
  const helperMs = ((childTicks() - ticks0) * 10) / runs;
  console.log(`${inputs} inputs, closure from ${args.closure ?? 'scan'}, ballast ${ballast.length} MB, ${runs} jobs: ` +
    `CPU per job median ${samples[samples.length >> 1].toFixed(2)} ms (min ${samples[0].toFixed(2)}, max ${samples.at(-1).toFixed(2)}); children ${helperMs.toFixed(2)} ms per job`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
