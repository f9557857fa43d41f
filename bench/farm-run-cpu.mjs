#!/usr/bin/env node
// CPU the farm client spends on one job's run exchange, in-process: sending the job (a realistic one: 161 inputs,
// as test-fixtures/bench/small.cpp's) and receiving its result (an object of --object-kb, checked and written to a
// temporary file, then renamed into place), pair by pair against another checkout (--vs) or alone.
// Each checkout answers with its own builder-side encoding from a separate Node process (the protocols may
// differ), so only the client's side is measured. Not part of `npm run bench`; cited in docs/dist-design.md.
//
//   node bench/farm-run-cpu.mjs [--vs=/path/to/other/checkout] [--other-way=receive] [--runs=N] [--object-kb=N] [--ballast-mb=N]
//
// --ballast-mb: objects this process holds, standing for the daemon's heap (garbage collection scales with it).
// Prints the median CPU (user+system, process.cpuUsage) per exchange of each checkout, and the median of the
// per-pair differences (this − other).

import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const from = (repo, p) => import(pathToFileURL(join(repo, 'packages/dist/dist', p)).href);

if (process.argv[2] === '--serve') {
  const [, , , repo, objectPath, kb] = process.argv;
  const http = await import('node:http');
  const { encodeJobResult, JOB_RESULT_CONTENT_TYPE } = await from(repo, 'protocol/job-result.js');
  const object = randomBytes(Number(kb) * 1024);
  const { chunks, length } = encodeJobResult({ exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), outputs: [{ role: 'object', path: objectPath, data: object }] });
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': JOB_RESULT_CONTENT_TYPE, 'content-length': length });
      for (const c of chunks) res.write(c);
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
} else {
  const runs = Number(args.runs ?? 200);
  const objectKb = Number(args['object-kb'] ?? 1024);
  const ballast = Array.from({ length: Number(args['ballast-mb'] ?? 150) }, () => Array.from({ length: 4096 }, (_, i) => ({ i, s: `x${i}` })));
  const tmp = mkdtempSync(join(tmpdir(), 'reprise-farm-run-cpu-'));
  const hex = (n) => n.toString(16).padStart(64, '0');
  // The job of small.cpp: its argv, a few variables, 161 inputs (system headers and the source), one output.
  const wireJob = (objectPath) => ({
    toolchainId: hex(7),
    argv: ['g++', '-std=c++17', '-O2', '-g', '-c', '/home/dev/proj/small.cpp', '-o', objectPath],
    cwd: '/home/dev/proj',
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    inputs: Array.from({ length: 161 }, (_, i) => ({ path: i ? `/usr/include/c++/12/bits/header_${i}.h` : '/home/dev/proj/small.cpp', digest: hex(1000 + i), size: 1000 + i * 37 })),
    outputs: [{ role: 'object', path: objectPath }],
    limits: { timeoutMs: 600000, maxOutputBytes: 1024 ** 3, memoryBytes: 4 * 1024 ** 3, maxProcesses: 256 },
  });
  const sides = [{ label: 'this', repo: REPO }, ...(args.vs ? [{ label: 'other', repo: resolve(args.vs) }] : [])];
  try {
    for (const side of sides) {
      side.objectPath = join(tmp, `${side.label}.o`);
      side.server = fork(fileURLToPath(import.meta.url), ['--serve', side.repo, side.objectPath, String(objectKb)]);
      const port = await new Promise((r) => side.server.once('message', r));
      const { farmRequest, farmAgent } = await from(side.repo, 'http/client.js');
      const { receiveJobResult, JobResultReader } = await from(side.repo, 'client/result-receiver.js');
      // A checkout with the push reader reads the result through undici's dispatch (farmRequest's `reader`), an older
      // one through a stream (`receive`); --other-way=receive makes the other side (e.g. --vs=. ) read through a stream.
      const way = side.label === 'other' && args['other-way'] ? args['other-way'] : JobResultReader ? 'reader' : 'receive';
      side.name = `${side.label} (${way})`;
      const { JOB_RESULT_CONTENT_TYPE } = await from(side.repo, 'protocol/job-result.js');
      const dispatcher = farmAgent();
      side.close = () => dispatcher.close();
      const expected = [{ role: 'object', path: side.objectPath }];
      const job = wireJob(side.objectPath);
      side.exchange = async () => {
        const r = await farmRequest({
          method: 'POST', url: `http://127.0.0.1:${port}/v1/jobs/j/run`, token: 'a'.repeat(300), json: { toolchainId: job.toolchainId, job },
          binary: JOB_RESULT_CONTENT_TYPE, timeoutMs: 30_000, dispatcher, maxResponseBytes: 64 * 1024 * 1024,
          ...(way === 'reader' ? { reader: () => new JobResultReader(expected, 64 * 1024 * 1024) } : { receive: (body) => receiveJobResult(body, expected, 64 * 1024 * 1024) }),
        });
        r.received.commit();
      };
    }
    const cpu = async (fn) => {
      const before = process.cpuUsage();
      await fn();
      const d = process.cpuUsage(before);
      return (d.user + d.system) / 1000;
    };
    for (let i = 0; i < 30; i++) for (const s of sides) await s.exchange(); // warm-up
    const samples = Object.fromEntries(sides.map((s) => [s.label, []]));
    const diffs = [];
    for (let i = 0; i < runs; i++) {
      const order = i % 2 ? sides : [...sides].reverse();
      const pair = {};
      for (const s of order) pair[s.label] = await cpu(s.exchange);
      for (const s of sides) samples[s.label].push(pair[s.label]);
      if (sides.length === 2) diffs.push(pair.this - pair.other);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const line = sides.map((s) => `${s.name} ${median(samples[s.label]).toFixed(3)} ms`).join(', ');
    console.log(`object ${objectKb} KB, ${runs} ${sides.length === 2 ? 'pairs' : 'runs'}, ballast ${ballast.length} MB: CPU per run exchange ${line}${diffs.length ? `; this − other per pair ${median(diffs).toFixed(3)} ms` : ''}`);
  } finally {
    for (const s of sides) {
      await s.close?.();
      s.server?.kill();
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}
