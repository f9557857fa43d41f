#!/usr/bin/env node
// The farm client's CPU per allocation: a real scheduler and one bwrap builder on loopback (bench/farm.mjs's
// startFarm), this process's SchedulerClient asking for a builder and giving it back, N times; the CPU of the ask
// alone (process.cpuUsage around `allocate`), median. Not part of `npm run bench`; cited in docs/dist-design.md.
//
//   node bench/farm-allocate-cpu.mjs [--runs=N]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startFarm } from './farm.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const runs = Number(args.runs ?? 300);
const dist = (p) => import(pathToFileURL(path.join(REPO, 'packages/dist/dist', p)).href);
const { SchedulerClient } = await dist('client/scheduler-client.js');
const { farmAgent } = await dist('http/client.js');
const { normaliseArch, normaliseOs } = await dist('platform.js');

const work = mkdtempSync(path.join(tmpdir(), 'reprise-farm-allocate-cpu-'));
const farm = await startFarm(path.join(work, 'farm'), 1, { maxJobs: 4 });
try {
  const agent = farmAgent();
  const client = new SchedulerClient(farm.url, farm.clientToken, agent);
  // This machine's platform, as the builder registers it (normalised names).
  const platforms = [{ os: normaliseOs(process.platform), arch: normaliseArch(process.arch) }];
  const ask = () => client.allocate('f'.repeat(64), platforms, 5000);
  // The builder registers within a heartbeat or two: ask until it is there (bounded).
  for (let i = 0; ; i++) {
    try {
      await client.release((await ask()).jobId);
      break;
    } catch (err) {
      if (i > 150) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const samples = [];
  for (let i = 0; i < runs + 20; i++) {
    const before = process.cpuUsage();
    const a = await ask();
    const d = process.cpuUsage(before);
    if (i >= 20) samples.push((d.user + d.system) / 1000);
    await client.release(a.jobId);
  }
  samples.sort((a, b) => a - b);
  console.log(`client CPU per allocation: median ${samples[samples.length >> 1].toFixed(3)} ms over ${runs} (min ${samples[0].toFixed(3)}, max ${samples.at(-1).toFixed(3)})`);
  await agent.close();
} finally {
  await farm.stop();
  rmSync(work, { recursive: true, force: true });
}
