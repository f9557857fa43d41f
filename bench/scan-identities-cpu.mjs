#!/usr/bin/env node
// What a job's closure scan with GCC's read trace saves the daemon, in-process (test-fixtures/bench/small.cpp,
// g++ -std=c++17 -O2 -g, 160 files): a `stat` and cache look-up per file (FileHashCache.known, as buildJob did)
// against reading the scan's trace, parsing it through @reprise/plugin-gcc's listDependencies tap and looking each
// file up under the identity cc1 took (knownAsRead), the trace's removal included. Writing the trace stands for
// cc1 writing it and is measured apart (not the daemon's cost). Not part of `npm run bench`; cited in
// bench/results/2026-12-06-farm-client3.md.
//
//   node bench/scan-identities-cpu.mjs [--runs=N]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const runs = Number(args.runs ?? 300);
const { Engine, FileHashCache, identitiesFromList, parseDepFile } = await import(join(REPO, 'packages/core/dist/index.js'));
const gcc = await import(join(REPO, 'packages/plugin-gcc/dist/index.js'));
const readIdentities = identitiesFromList(new Engine().use(gcc.gccPlugin), 'gcc');

const tmp = mkdtempSync(join(tmpdir(), 'reprise-scan-identities-'));
try {
  const src = join(tmp, 'small.cpp');
  writeFileSync(src, readFileSync(join(REPO, 'test-fixtures/bench/small.cpp')));
  const trace = join(tmp, 'scan.reads');
  const env = { ...process.env, LD_PRELOAD: gcc.readTraceLibrary(), REPRISE_READ_TRACE: trace };
  execFileSync('g++', ['-std=c++17', '-O2', '-g', '-M', '-MF', join(tmp, 'scan.d'), src], { env });
  const depText = readFileSync(join(tmp, 'scan.d'), 'utf8');
  const traceText = readFileSync(trace, 'utf8');
  const files = parseDepFile(depText, tmp);
  const tokens = ['__has_include'];
  // A project's files are older than the hash cache's racy window (2 s on coarse file systems): wait it out.
  await new Promise((r) => setTimeout(r, 2200));
  const hashes = new FileHashCache();
  for (const f of files) await hashes.digest(f, tokens);
  const invocation = { sourceFile: src, dependencies: {} };
  const copy = join(tmp, 'copy.reads');
  const byStat = () => files.filter((f) => hashes.known(f, tokens) !== 'unknown').length;
  const byIdentity = () => {
    writeFileSync(copy, traceText);
    const listed = readFileSync(copy, 'utf8');
    unlinkSync(copy);
    const ids = readIdentities({ invocation, cwd: tmp, listed, depText });
    return files.filter((f) => ids.get(f) !== undefined && hashes.knownAsRead(f, ids.get(f), tokens) !== undefined).length;
  };
  const writeAlone = () => {
    writeFileSync(copy, traceText);
    unlinkSync(copy);
    return 0;
  };
  const cpu = (fn) => {
    const out = [];
    for (let i = 0; i < runs; i++) {
      const c = process.cpuUsage();
      fn();
      const d = process.cpuUsage(c);
      out.push((d.user + d.system) / 1000);
    }
    out.sort((a, b) => a - b);
    return out[runs >> 1];
  };
  console.log(`${files.length} files; known by stat ${byStat()}, by the scan's identities ${byIdentity()}`);
  for (let round = 0; round < 3; round++) {
    const s = cpu(byStat);
    const t = cpu(byIdentity);
    const w = cpu(writeAlone);
    console.log(`median CPU: a stat each ${s.toFixed(3)} ms; the trace read, parsed and looked up ${t.toFixed(3)} ms, of which writing it (cc1's part, with the removal) ${w.toFixed(3)} ms`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
