#!/usr/bin/env node
// CPU the farm client spends on a cold job's inputs, in-process: the inputs of a real yaml-cpp unit (its `g++ -M`
// closure, ~170 files) stored into an empty input store as buildJob does on first sight (`InputStore.putFile`, each
// hashed again), then sent to a builder that holds none of them through `runOnBuilder`: a first run answered 409
// with every blob missing, then either the run carrying them all (a builder that takes blobs with the run) or, with
// --upload, one PUT per blob (an older builder) and the run again; its result is a small object. Pair by pair
// against another checkout (--vs), order alternated. The builder is a stand-in HTTP server in a separate Node process
// that answers as the protocol says (it does not compile): only the client's side is measured. Not part of
// `npm run bench`; cited in bench/results/2026-12-07-farm-lean.md.
//
//   node bench/farm-inputs-cpu.mjs [--vs=/path/to/other/checkout] [--runs=N] [--upload] [--fixtures=DIR]
//
// Prints the median CPU (user+system, process.cpuUsage) per job of each checkout for the store and for the exchange,
// and the medians of the per-pair differences (this − other).

import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => { const i = a.indexOf('='); return i < 0 ? [a.replace(/^--/, ''), true] : [a.slice(2, i), a.slice(i + 1)]; }));
const dist = (repo, p) => import(pathToFileURL(join(repo, 'packages/dist/dist', p)).href);
const core = (repo, p) => import(pathToFileURL(join(repo, 'packages/core/dist', p)).href);

if (process.argv[2] === '--serve') {
  const [, , , repo, upload] = process.argv;
  const http = await import('node:http');
  const { encodeJobResult, JOB_RESULT_CONTENT_TYPE } = await dist(repo, 'protocol/job-result.js');
  const { INLINE_BLOBS_HEADER } = await dist(repo, 'protocol/run-body.js');
  const result = encodeJobResult({ exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), outputs: [] });
  let digests = [];
  const held = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'PUT') {
        held.add(req.url.split('/').pop());
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      if (upload !== 'upload') res.setHeader(INLINE_BLOBS_HEADER, String(256 * 1024 * 1024));
      const body = Buffer.concat(chunks);
      const carries = req.headers['content-type'] !== 'application/json';
      if (!carries && digests.some((d) => !held.has(d))) {
        res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'missing', message: 'missing' }, missing: { blobs: digests.filter((d) => !held.has(d)) } }));
        return;
      }
      held.clear();
      res.writeHead(200, { 'content-type': JOB_RESULT_CONTENT_TYPE, 'content-length': result.length });
      for (const c of result.chunks) res.write(c);
      res.end();
    });
  });
  process.on('message', (m) => { digests = m; held.clear(); process.send('ok'); });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
} else {
  const runs = Number(args.runs ?? 12);
  const fixtures = resolve(args.fixtures ?? join(REPO, '.fixtures'));
  const yaml = join(fixtures, 'yaml-cpp');
  // A real unit's closure: what buildJob's scan lists for it.
  const deps = execFileSync('g++', ['-std=c++11', '-M', `-I${join(yaml, 'include')}`, `-I${join(yaml, 'src')}`, join(yaml, 'src', 'emitter.cpp')], { encoding: 'utf8' });
  const files = [...new Set(deps.replace(/\\\n/g, ' ').split(':').slice(1).join(':').split(/\s+/).filter(Boolean).map((p) => resolve(p)))];
  const tmp = mkdtempSync(join(tmpdir(), 'reprise-farm-inputs-cpu-'));
  const sides = [{ label: 'this', repo: REPO }, ...(typeof args.vs === 'string' ? [{ label: 'other', repo: resolve(args.vs) }] : [])];
  try {
    for (const side of sides) {
      const { InputStore } = await core(side.repo, 'hermetic/input-store.js');
      const { hashBytes } = await core(side.repo, 'hashing/key-hasher.js');
      const { readFileSync } = await import('node:fs');
      side.inputs = files.map((path) => ({ path, digest: hashBytes(readFileSync(path)), size: statSync(path).size }));
      side.server = fork(fileURLToPath(import.meta.url), ['--serve', side.repo, args.upload ? 'upload' : 'inline']);
      const port = await new Promise((r) => side.server.once('message', r));
      const { farmAgent } = await dist(side.repo, 'http/client.js');
      const { runOnBuilder } = await dist(side.repo, 'client/builder-client.js');
      const { JobResultReader } = await dist(side.repo, 'client/result-receiver.js');
      const { BuilderHoldings } = await dist(side.repo, 'client/builder-holdings.js');
      const dispatcher = farmAgent();
      side.close = () => dispatcher.close();
      let n = 0;
      side.job = async () => {
        const store = new InputStore(join(tmp, `${side.label}-${n++}`));
        await new Promise((r) => { side.server.once('message', r); side.server.send(side.inputs.map((i) => i.digest)); });
        const t0 = process.cpuUsage();
        for (const i of side.inputs) if (!(await store.putFile(i.path, i.digest))) throw new Error(`${i.path} changed`);
        const t1 = process.cpuUsage();
        const wire = {
          argv: ['g++', '-c', files[0], '-o', join(tmp, 'x.o')], cwd: tmp, env: { PATH: '/usr/bin:/bin' },
          inputs: side.inputs.map((i) => ({ path: i.path, digest: i.digest, size: i.size, mode: 0o644 })), outputs: [],
          limits: { timeoutMs: 600000, maxOutputBytes: 1024 ** 3 },
        };
        const alloc = { jobId: `j${n}`, builderId: 'b', builderUrl: `http://127.0.0.1:${port}`, jobToken: 'a'.repeat(64), expiresAt: Date.now() + 60_000 };
        const ex = await runOnBuilder(alloc, { id: 'f'.repeat(64), ownedByBuilder: true }, wire, store, dispatcher, 30_000, AbortSignal.timeout(30_000), () => new JobResultReader([], 64 * 1024 * 1024), undefined, new BuilderHoldings());
        const t2 = process.cpuUsage();
        ex.result.commit();
        rmSync(store.dir, { recursive: true, force: true });
        const ms = (a, b) => (b.user + b.system - a.user - a.system) / 1000;
        return { store: ms(t0, t1), exchange: ms(t1, t2), roundTrips: ex.roundTrips };
      };
    }
    for (let i = 0; i < 3; i++) for (const s of sides) await s.job(); // warm-up
    const samples = Object.fromEntries(sides.map((s) => [s.label, []]));
    const diffs = { store: [], exchange: [] };
    for (let i = 0; i < runs; i++) {
      const order = i % 2 ? sides : [...sides].reverse();
      const pair = {};
      for (const s of order) pair[s.label] = await s.job();
      for (const s of sides) samples[s.label].push(pair[s.label]);
      if (sides.length === 2) for (const k of ['store', 'exchange']) diffs[k].push(pair.this[k] - pair.other[k]);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    for (const s of sides) {
      const m = (k) => median(samples[s.label].map((x) => x[k]));
      console.log(`${s.label}: ${files.length} inputs, ${args.upload ? 'uploaded one by one' : 'carried with the run'}: store ${m('store').toFixed(2)} ms, exchange ${m('exchange').toFixed(2)} ms (${m('roundTrips')} round trips) per job`);
    }
    if (sides.length === 2) console.log(`this − other per pair (${runs} pairs): store ${median(diffs.store).toFixed(2)} ms, exchange ${median(diffs.exchange).toFixed(2)} ms`);
  } finally {
    for (const s of sides) {
      await s.close?.();
      s.server?.kill();
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}
