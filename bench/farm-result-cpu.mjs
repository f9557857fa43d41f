#!/usr/bin/env node
// CPU the farm client spends receiving one job result (a 1 MB object by default), in-process, pair by pair:
//   joined    the answer's chunks collected and joined into one buffer, decoded and checked whole, then the object
//             written (temp + rename): the client before the streaming receiver
//   streamed  the answer checked and written as it arrives (client/result-receiver.ts), then renamed into place
// The builder's side is a separate Node process answering every request with the same encoded result, so only the
// receiving process is measured. Not part of `npm run bench`; cited in docs/dist-design.md.
//
//   node bench/farm-result-cpu.mjs [--runs=N] [--object-kb=N] [--ballast-mb=N]
//
// --ballast-mb: memory this process holds, standing for the daemon's heap (garbage collection scales with it).
// Prints the median CPU (user+system, process.cpuUsage) per received result of each way, and the median of the
// per-pair ratios (streamed / joined), the steadier figure on a shared machine.

import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const dist = (p) => import(join(REPO, 'packages/dist/dist', p));

if (process.argv[2] === '--serve') {
  const http = await import('node:http');
  const { encodeJobResult, JOB_RESULT_CONTENT_TYPE } = await dist('protocol/job-result.js');
  const objectPath = process.argv[3];
  const object = randomBytes(Number(process.argv[4]) * 1024);
  const { chunks, length } = encodeJobResult({ exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), outputs: [{ role: 'object', path: objectPath, data: object }] });
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': JOB_RESULT_CONTENT_TYPE, 'content-length': length });
      for (const c of chunks) res.write(c);
      res.end();
    });
  });
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
} else {
  const runs = Number(args.runs ?? 200);
  const objectKb = Number(args['object-kb'] ?? 1024);
  const ballast = Array.from({ length: Number(args['ballast-mb'] ?? 150) }, () => Array.from({ length: 4096 }, (_, i) => ({ i, s: `x${i}` })));
  const { farmRequest, farmAgent } = await dist('http/client.js');
  const { receiveJobResult } = await dist('client/result-receiver.js');
  const { decodeJobResult, JOB_RESULT_CONTENT_TYPE } = await dist('protocol/job-result.js');
  const { writeOutputAtomically } = await import(join(REPO, 'packages/core/dist/index.js'));
  const tmp = mkdtempSync(join(tmpdir(), 'reprise-farm-result-cpu-'));
  const objectPath = join(tmp, 'out.o');
  const server = fork(fileURLToPath(import.meta.url), ['--serve', objectPath, String(objectKb)]);
  try {
    const port = await new Promise((r) => server.once('message', r));
    const dispatcher = farmAgent();
    const call = { method: 'POST', url: `http://127.0.0.1:${port}/run`, json: { job: 'x' }, binary: JOB_RESULT_CONTENT_TYPE, timeoutMs: 30_000, dispatcher, maxResponseBytes: 64 * 1024 * 1024 };
    const expected = [{ role: 'object', path: objectPath }];
    const ways = {
      joined: async () => {
        const r = await farmRequest(call);
        const result = decodeJobResult(r.bytes);
        for (const o of result.outputs) writeOutputAtomically(o.path, o.data);
      },
      streamed: async () => {
        const r = await farmRequest({ ...call, receive: (body) => receiveJobResult(body, expected, 64 * 1024 * 1024) });
        r.received.commit();
      },
    };
    const cpu = async (fn) => {
      const before = process.cpuUsage();
      await fn();
      const d = process.cpuUsage(before);
      return (d.user + d.system) / 1000;
    };
    for (let i = 0; i < 20; i++) for (const fn of Object.values(ways)) await fn(); // warm-up
    const samples = { joined: [], streamed: [] };
    const ratios = [];
    for (let i = 0; i < runs; i++) {
      const order = i % 2 ? ['joined', 'streamed'] : ['streamed', 'joined'];
      const pair = {};
      for (const w of order) pair[w] = await cpu(ways[w]);
      samples.joined.push(pair.joined);
      samples.streamed.push(pair.streamed);
      if (pair.joined > 0) ratios.push(pair.streamed / pair.joined);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`object ${objectKb} KB, ${runs} pairs, ballast ${ballast.length} MB: joined ${median(samples.joined).toFixed(2)} ms CPU, streamed ${median(samples.streamed).toFixed(2)} ms CPU per result; streamed/joined per pair ${median(ratios).toFixed(2)}`);
    await dispatcher.close();
  } finally {
    server.kill();
    rmSync(tmp, { recursive: true, force: true });
  }
}
