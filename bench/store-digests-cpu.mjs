#!/usr/bin/env node
// CPU of the store's digests of what a miss read, per miss, in-process: the 161 files test-fixtures/bench/small.cpp
// reads (g++ -std=c++17 -O2 -g -M), each taken from the daemon's warm hash cache (a stat per file, as the store does
// for a local miss) against each taken from the digests a compileMiss tap carried (MissCompileResult.inputs: a map
// look-up, and with text digests a look-up by content). Also reading a 1 MB output back (open, fstat, read, stat)
// against taking the bytes the tap gives (MissCompileResult.outputs). Not part of `npm run bench`; cited in
// docs/dist-design.md and bench/results.
//
//   node bench/store-digests-cpu.mjs [--runs=N]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const runs = Number(args.runs ?? 400);
const { FileHashCache } = await import(join(REPO, 'packages/core/dist/index.js'));
const { parseDepFileWithEnv } = await import(join(REPO, 'packages/core/dist/engine/dep-file.js'));
const { readOutputs } = await import(join(REPO, 'packages/core/dist/engine/read-outputs.js'));

const tmp = mkdtempSync(join(tmpdir(), 'reprise-store-digests-cpu-'));
try {
  const src = join(tmp, 'small.cpp');
  writeFileSync(src, readFileSync(join(REPO, 'test-fixtures/bench/small.cpp')));
  execFileSync('g++', ['-std=c++17', '-O2', '-g', '-M', '-MF', join(tmp, 'd'), src]);
  const files = parseDepFileWithEnv(readFileSync(join(tmp, 'd'), 'utf8'), tmp).files;
  const object = join(tmp, 'out.o');
  writeFileSync(object, Buffer.alloc(1 << 20, 7));
  const tokens = ['__DATE__', '__TIME__', '__has_include'];
  const reading = { id: 'bench', read: (data) => ({ text: data }) };
  // The source is fresh (within the racy window): wait it out so its digest is remembered.
  await new Promise((r) => setTimeout(r, 2500));
  const hashes = new FileHashCache();
  const carried = new Map();
  for (const f of files) {
    carried.set(f, await hashes.digest(f, tokens));
    await hashes.digestWithChangeTime(f, tokens, reading);
  }
  const ways = {
    stat: async () => {
      for (const f of files) await hashes.digestWithChangeTime(f, tokens, reading);
    },
    carried: async () => {
      for (const f of files) {
        const d = carried.get(f);
        hashes.knownText(d.hash, reading);
      }
    },
    readBack: async () => {
      const r = readOutputs([{ role: 'object', path: object }], Buffer.alloc(0), Buffer.alloc(0));
      hashes.rememberWritten(object, r.outputs[0].data);
    },
  };
  const cpu = async (fn) => {
    const b = process.cpuUsage();
    await fn();
    const d = process.cpuUsage(b);
    return (d.user + d.system) / 1000;
  };
  for (let i = 0; i < 50; i++) for (const f of Object.values(ways)) await f();
  const s = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) for (const [k, f] of Object.entries(ways)) s[k].push(await cpu(f));
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`${files.length} files read, ${runs} runs: the store's digests with a stat per file ${med(s.stat).toFixed(3)} ms, from the carried digests ${med(s.carried).toFixed(3)} ms; reading a 1 MB output back ${med(s.readBack).toFixed(3)} ms (taking the given bytes: no work)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
