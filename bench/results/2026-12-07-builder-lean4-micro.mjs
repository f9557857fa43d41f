#!/usr/bin/env node
// The builder's store work per job, apart from a build: two checkouts' BuilderStores alternated, each round a fresh
// child process (cold JIT, as a fresh builder) on a copy of real toolchains (TOOLCHAINS, a builder's toolchains/).
// Per round: the heartbeat's listing (toolchainsHeld) and a job's toolchain acquire + release, N times each; then
// BLOBS header-sized blobs stored as a run request's blobs are (putBlobBytes) and the job's missing check that follows.
//   node 2026-12-07-builder-lean4-micro.mjs <checkout A> <checkout B> [rounds] [N] [BLOBS]     (TOOLCHAINS=dir)
import { spawnSync } from 'node:child_process';
import os from 'node:os';

const [a, b, roundsArg, nArg, blobsArg] = process.argv.slice(2);
if (process.env.MICRO_CHILD) {
  const { cpSync, mkdtempSync, readdirSync, rmSync } = await import('node:fs');
  const { createHash, randomBytes } = await import('node:crypto');
  const { join } = await import('node:path');
  const { BuilderStores } = await import(`${process.env.MICRO_CHILD}/packages/dist/dist/builder/stores.js`);
  const n = Number(nArg), blobs = Number(blobsArg);
  const dataDir = mkdtempSync(join(os.tmpdir(), 'builder-lean4-micro-'));
  cpSync(process.env.TOOLCHAINS, join(dataDir, 'toolchains'), { recursive: true });
  const stores = new BuilderStores({ dataDir, toolchainCacheBytes: 8 * 1024 ** 3, blobStoreBytes: 8 * 1024 ** 3, maxBlobUpload: 64 << 20, maxToolchainUpload: 1 << 30 });
  const ids = readdirSync(join(dataDir, 'toolchains')).filter((x) => /^[0-9a-f]{64}$/.test(x));
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  const out = {};
  let t = cpu();
  for (let i = 0; i < n; i++) stores.toolchainsHeld();
  out.listMs = (cpu() - t) / n;
  t = cpu();
  for (let i = 0; i < n; i++) (await stores.toolchains.acquire(ids[i % ids.length], async () => { throw new Error('not held'); })).release();
  out.acquireMs = (cpu() - t) / n;
  const data = Array.from({ length: blobs }, () => randomBytes(4000 + Math.floor(Math.random() * 12000)));
  const digests = data.map((d) => createHash('sha256').update(d).digest('hex'));
  t = cpu();
  for (let i = 0; i < blobs; i++) stores.putBlobBytes(digests[i], data[i]);
  const missing = stores.missingBlobs(digests);
  out.blobsMs = cpu() - t;
  if (missing.length) throw new Error('blobs missing after their store');
  rmSync(dataDir, { recursive: true, force: true });
  console.log(JSON.stringify(out));
} else {
  const rounds = Number(roundsArg ?? 8), n = Number(nArg ?? 200), blobs = Number(blobsArg ?? 330);
  const res = { A: [], B: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [label, dir] of r % 2 ? [['B', b], ['A', a]] : [['A', a], ['B', b]]) {
      const load = os.loadavg()[0].toFixed(1);
      const p = spawnSync(process.execPath, [process.argv[1], a, b, '0', String(n), String(blobs)], { env: { ...process.env, MICRO_CHILD: dir }, encoding: 'utf8' });
      if (p.status !== 0) throw new Error(p.stderr);
      const o = JSON.parse(p.stdout);
      res[label].push(o);
      console.log(`round ${r + 1} ${label} (load ${load}): listing ${(o.listMs * 1000).toFixed(0)} µs, acquire ${(o.acquireMs * 1000).toFixed(0)} µs, ${blobs} blobs stored and checked ${o.blobsMs.toFixed(1)} ms`);
    }
  }
  const med = (xs) => { const s = [...xs].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  for (const k of ['A', 'B']) console.log(`${k} medians: listing ${(med(res[k].map((o) => o.listMs)) * 1000).toFixed(0)} µs, acquire ${(med(res[k].map((o) => o.acquireMs)) * 1000).toFixed(0)} µs, blobs ${med(res[k].map((o) => o.blobsMs)).toFixed(1)} ms`);
}
