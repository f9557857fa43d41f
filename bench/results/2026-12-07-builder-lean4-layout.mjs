#!/usr/bin/env node
// A yaml-cpp-like job's layout apart from a build: planJobLayout of two checkouts alternated, each round a fresh
// child process (cold JIT, as a fresh builder), on a real toolchain root (TOOLCHAIN_ROOT, a builder's unpacked
// toolchains/<id>/root). Each job carries ~330 real /usr/include headers (a different set each job: every kept-tree
// lookup misses and links its tree, as in a cold yaml-cpp build) and its source; CPU per job of planJobLayout and
// release, JOBS jobs per round.
//   node 2026-12-07-builder-lean4-layout.mjs <checkout A> <checkout B> [rounds] [JOBS]
import { spawnSync } from 'node:child_process';
import os from 'node:os';

const [a, b, roundsArg, jobsArg] = process.argv.slice(2);
if (process.env.LAYOUT_CHILD) {
  const fs = await import('node:fs');
  const { join } = await import('node:path');
  const { createHash } = await import('node:crypto');
  const kit = await import(`${process.env.LAYOUT_CHILD}/packages/core/dist/bundle/sandbox-kit.js`);
  const jobs = Number(jobsArg);
  const work = fs.mkdtempSync(join(os.tmpdir(), 'builder-lean4-layout-'));
  const headers = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = `${d}/${e.name}`; if (e.isDirectory()) walk(p); else if (e.isFile() && headers.length < 420) headers.push(p); } };
  walk('/usr/include/c++/12');
  walk('/usr/include/x86_64-linux-gnu');
  const blobs = join(work, 'blobs');
  fs.mkdirSync(blobs);
  const hashOf = (p) => createHash('sha256').update(p).digest('hex');
  for (const h of headers) fs.writeFileSync(join(blobs, hashOf(h)), 'x');
  fs.writeFileSync(join(blobs, hashOf('src')), 'int main(){}');
  const trees = new kit.InputTreeCache(join(work, 'trees'));
  const toolchainTrees = new kit.InputTreeCache(join(work, 'tctrees'), 16);
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  let total = 0;
  for (let j = 0; j < jobs; j++) {
    // ~330 of the 420 headers, a different set each job.
    const inputs = headers.filter((_, i) => (i * 7 + j) % 9 < 7).slice(0, 330).map((p) => ({ path: p, hash: hashOf(p), size: 1 }));
    inputs.push({ path: '/src/yaml/src/node.cpp', hash: hashOf('src'), size: 1 });
    const job = { toolchainId: 'x', argv: ['/usr/bin/c++', '-c', '/src/yaml/src/node.cpp', '-o', 'node.o'], cwd: '/src/yaml/build', env: {}, inputs, outputs: [{ role: 'object', path: '/src/yaml/build/node.o' }], limits: { timeoutMs: 1000, maxOutputBytes: 1 << 20 } };
    const scratchDir = join(work, `job-${j}`);
    fs.mkdirSync(scratchDir);
    const t = cpu();
    const layout = kit.planJobLayout(job, { toolchainRoot: process.env.TOOLCHAIN_ROOT, inputBlob: (h) => join(blobs, h), scratchDir, signal: new AbortController().signal, inputTrees: trees, toolchainTrees }, { base: 'empty' });
    layout.release();
    total += cpu() - t;
  }
  fs.rmSync(work, { recursive: true, force: true });
  console.log(JSON.stringify({ perJobMs: total / jobs }));
} else {
  const rounds = Number(roundsArg ?? 8), jobs = Number(jobsArg ?? 30);
  const res = { A: [], B: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [label, dir] of r % 2 ? [['B', b], ['A', a]] : [['A', a], ['B', b]]) {
      const load = os.loadavg()[0].toFixed(1);
      const p = spawnSync(process.execPath, [process.argv[1], a, b, '0', String(jobs)], { env: { ...process.env, LAYOUT_CHILD: dir }, encoding: 'utf8' });
      if (p.status !== 0) throw new Error(p.stderr);
      const o = JSON.parse(p.stdout);
      res[label].push(o.perJobMs);
      console.log(`round ${r + 1} ${label} (load ${load}): planJobLayout + release ${o.perJobMs.toFixed(2)} ms per job`);
    }
  }
  const med = (xs) => { const s = [...xs].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  for (const k of ['A', 'B']) console.log(`${k} median ${med(res[k]).toFixed(2)} ms per job`);
}
