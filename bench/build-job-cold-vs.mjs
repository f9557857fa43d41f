#!/usr/bin/env node
// CPU of building a cold farm job in-process (core's buildJob with a remembered closure: no scan), this checkout
// against another one, round by round in alternating order: test-fixtures/bench/small.cpp's ~160 inputs, each round
// with a fresh hash cache and an empty input store, so every input is hashed and stored for the first time (a cold
// job's first sight of its headers). Not part of `npm run bench`; cited in bench/results/2026-12-07-farm-client6.md.
//
//   node bench/build-job-cold-vs.mjs --vs=/path/to/other/checkout [--rounds=N]
//
// Prints each checkout's median CPU per job (process.cpuUsage) and the median of the per-round differences (this − other).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { smallCppProject } from './small-cpp-project.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
if (!args.vs) throw new Error('--vs=/path/to/other/checkout is required');
const rounds = Number(args.rounds ?? 30);
const sides = [
  { label: 'this', core: await import(join(REPO, 'packages/core/dist/index.js')), cpu: [] },
  { label: 'other', core: await import(join(resolve(args.vs), 'packages/core/dist/index.js')), cpu: [] },
];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const tmp = mkdtempSync(join(tmpdir(), 'reprise-build-job-cold-'));
try {
  const { proj, src, base } = smallCppProject(tmp);
  execFileSync(base[0], [...base.slice(1), '-E', '-MD', '-MF', join(tmp, 'pp.d'), '-o', '/dev/null']);
  const closure = sides[0].core.parseDepFile(readFileSync(join(tmp, 'pp.d'), 'utf8'), proj);
  // Older than the hash cache's racy window (2 s), as a project's files are.
  await new Promise((r) => setTimeout(r, 2500));
  const object = join(proj, 'build', 'x.o');
  const dep = join(tmp, 't.d');
  const request = { argv: base, cwd: proj, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, stdoutIsTTY: false, stderrIsTTY: false };
  const inv = {
    language: 'c++', sourceFile: src, outputs: [{ role: 'object', path: object }], keyArgs: [], preprocessorOnlyArgs: [],
    compileArgv: [...base, '-c', '-o', object, '-MD', '-MF', dep], dependencies: { depFile: dep, depFileIsTemporary: true },
    closureScan: { argv: [...base, '-M', '-MF', join(tmp, 'c.d')], depFile: join(tmp, 'c.d') }, includeDirs: [], keyEnv: [],
    volatileMarkers: [], dependsOnCwd: false, colorDiagnostics: false, extraInputFiles: [],
  };
  let inputs = 0;
  for (let i = -1; i < rounds; i++) {
    for (const side of i % 2 ? sides : [...sides].reverse()) {
      const { buildJob, FileHashCache, InputStore } = side.core;
      const store = new InputStore(join(tmp, `inputs-${side.label}-${i + 1}`));
      const hashes = new FileHashCache();
      const before = process.cpuUsage();
      const plan = await buildJob(request, inv, 'f'.repeat(64), store, hashes, undefined, { vouched: true, closure });
      const used = process.cpuUsage(before);
      if (!plan.ok) throw new Error(`${side.label}: ${plan.reason}: ${plan.detail}`);
      inputs = plan.job.inputs.length;
      rmSync(store.dir, { recursive: true, force: true });
      if (i >= 0) side.cpu.push((used.user + used.system) / 1000);
    }
  }
  for (const side of sides) console.log(`${side.label}: ${inputs} inputs, cold job CPU median ${median(side.cpu).toFixed(2)} ms (min ${Math.min(...side.cpu).toFixed(2)}) over ${rounds} rounds`);
  console.log(`this − other, per round: median ${median(sides[0].cpu.map((x, i) => x - sides[1].cpu[i])).toFixed(2)} ms`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
