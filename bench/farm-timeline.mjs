#!/usr/bin/env node
// Per-job timeline of a cold farm build (issue 10: why the builders sit idle), from the client daemon's debug log
// ("farm:" lines of packages/dist/src/client/farm-compiler.ts) and the builders' ("job …: … N ms").
//
//   node bench/farm-timeline.mjs [--project=yaml-cpp] [--rounds=N] [--vs=DIR] [--plain] [--jobs=N] [--slots=N] [--json=PATH]
//
// Each round builds the project through bench/farm.mjs's farm (two bwrap builders pinned to a core each, a fresh
// farm and client cache, warmed up with gcc and g++) with this checkout, and with --vs=DIR (a built checkout, e.g.
// main) too, alternated A B / B A. --plain adds a one-core plain build per round for the wall ratio.
// Per farm build: when the first job reached each step (seconds after the build started), each builder's idle time
// by cause, and the busy fractions bench/farm.mjs samples. A checkout without the "farm:" lines (main before this
// round) still gives the builders' runs, so the first run's start and the idle time (causes unknown).
//
// Idle time of a builder: the build's span outside its runs (a run: the job's sandbox, from the builder's log).
// A gap before a run is put down to what that run's job was doing meanwhile: not yet asked for by the build, the
// compiler's toolchain, the job's preparation, the equivalence probe, the allocation, the upload and send. A gap
// after a builder's last run: "tail" while the other builder still runs jobs, "after the last job" once none runs
// (the link and cmake's end).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProject, farmBuildOnce, median, run } from './farm.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STEPS = ['call', 'miss', 'toolchain', 'prepared', 'asked', 'allocated', 'runStart', 'runEnd', 'result', 'answered'];
const CAUSE_OF_STEP = { call: 'not yet asked by the build', miss: 'lookup (a miss)', toolchain: 'toolchain', prepared: 'job preparation', asked: 'equivalence probe', allocated: 'allocation', runStart: 'upload and send' };

const at = (iso) => Date.parse(iso);

/** The jobs of the daemon's log (its "farm:" lines after `since`), by source, and the probes' answers. */
export function clientEvents(daemonLog, since) {
  const jobs = new Map();
  const probes = [];
  const job = (src) => { let j = jobs.get(src); if (!j) jobs.set(src, (j = { src })); return j; };
  for (const line of daemonLog.split('\n')) {
    // Lines a checkout without the "farm:" lines (main before this round) has too: the call's command line when the
    // daemon takes it up, and "farm job of N inputs" just before its allocation is asked.
    const c = /^(\S+) DEBUG +\[compile\] (\S+): (\/\S+) -/.exec(line);
    if (c && at(c[1]) >= since) { job(c[2]).call ??= at(c[1]); continue; }
    const old = /^(\S+) DEBUG +\[compile\] (\S+): farm job of \d+ inputs/.exec(line);
    if (old && at(old[1]) >= since) { job(old[2]).asked ??= at(old[1]); continue; }
    const m = /^(\S+) DEBUG +\[[^\]]*\] (.*?): farm: (.*)$/.exec(line);
    if (!m || at(m[1]) < since) continue;
    const t = at(m[1]);
    const [, , who, what] = m;
    let x;
    if (what === 'miss') job(who).miss ??= t;
    else if (what === 'toolchain ready') job(who).toolchain ??= t;
    else if (what === 'job prepared') job(who).prepared ??= t;
    else if (what === 'allocation asked') job(who).asked ??= t;
    else if ((x = /^job (\S+) allocated on (\S+)(?: \((\d+) ms, the daemon's thread busy (\d+) %)?/.exec(what))) {
      // Since farm-start: the allocation's wait and how busy the daemon's thread was meanwhile (its first allocation only).
      const j = job(who);
      if (j.allocated === undefined && x[3] !== undefined) Object.assign(j, { allocationWaitMs: Number(x[3]), threadBusyPct: Number(x[4]) });
      Object.assign(j, { allocated: j.allocated ?? t, jobId: x[1], builder: x[2] });
    }
    else if ((x = /^result of job (\S+)/.exec(what))) Object.assign(job(who), { result: t, jobId: x[1] });
    else if (what === 'answered') job(who).answered = t;
    else if ((x = /^equivalence probe answered in (\d+) ms/.exec(what))) probes.push({ compiler: who, at: t, ms: Number(x[1]) });
  }
  return { jobs: [...jobs.values()], probes };
}

/** Each builder's runs (its log's "job ID: … N ms" lines), as [start, end] in epoch ms. */
export function builderRuns(logs) {
  return logs.map((log, i) => {
    const runs = [];
    for (const line of log.split('\n')) {
      const m = /^(\S+) DEBUG +\[[^\]]*\] job (\S+): .* (\d+) ms$/.exec(line);
      if (m) runs.push({ builder: `bench-${i}`, jobId: m[2], end: at(m[1]), start: at(m[1]) - Number(m[3]) });
    }
    return runs.sort((a, b) => a.start - b.start);
  });
}

/** Idle ms of one builder by cause over [t0, t1]. */
function idleByCause(runs, allRuns, jobsById, t0, t1) {
  const causes = {};
  const add = (cause, ms) => { if (ms > 0) causes[cause] = (causes[cause] ?? 0) + ms; };
  let from = t0;
  const lastAnyEnd = Math.max(...allRuns.map((r) => r.end));
  for (const r of runs) {
    if (r.start > from) {
      const job = jobsById.get(r.jobId);
      if (!job) add(from === t0 ? 'start-up (cause unknown)' : 'waiting for the client (cause unknown)', r.start - from);
      else {
        // Walk the job's steps: the part of the gap before each step is put down to that step.
        let cursor = from;
        for (const step of ['call', 'miss', 'toolchain', 'prepared', 'asked', 'allocated', 'runStart']) {
          const until = step === 'runStart' ? r.start : job[step];
          if (until === undefined) continue;
          const end = Math.min(until, r.start);
          if (end > cursor) { add((from === t0 ? 'start: ' : '') + CAUSE_OF_STEP[step], end - cursor); cursor = end; }
        }
      }
    }
    from = Math.max(from, r.end);
  }
  if (t1 > from) {
    add('tail: the other builder still running', Math.max(0, Math.min(t1, lastAnyEnd) - from));
    add('after the last job (link, cmake)', t1 - Math.max(from, lastAnyEnd));
  }
  return causes;
}

/** The timeline's summary: the first job's steps (s after the build started) and the builders' idle ms by cause. */
export function summarize(t) {
  const { jobs, probes } = clientEvents(t.daemonLog, t.startedAt);
  // The warm-up's runs ended before the build started.
  const perBuilder = builderRuns(t.builderLogs).map((runs) => runs.filter((r) => r.end > t.startedAt));
  const all = perBuilder.flat();
  const jobsById = new Map(jobs.filter((j) => j.jobId).map((j) => [j.jobId, j]));

  for (const r of all) { const j = jobsById.get(r.jobId); if (j) Object.assign(j, { runStart: r.start, runEnd: r.end }); }
  const first = Object.fromEntries(STEPS.map((s) => [s, Math.min(...jobs.map((j) => j[s]).filter((x) => x !== undefined), ...(s === 'runStart' ? all.map((r) => r.start) : []))]).map(([s, v]) => [s, Number.isFinite(v) ? (v - t.startedAt) / 1000 : null]));
  const idle = perBuilder.map((runs) => idleByCause(runs, all, jobsById, t.startedAt, t.endedAt));
  const total = {};
  for (const b of idle) for (const [k, v] of Object.entries(b)) total[k] = (total[k] ?? 0) + v;
  // When every slot of the farm had a job: the first wave's end (two builders).
  const filling = [...all].sort((a, b) => a.start - b.start)[2 * t.slots - 1];
  return {
    buildS: (t.endedAt - t.startedAt) / 1000, jobs: jobs.length, runs: all.length, first,
    allSlotsBusyS: filling ? (filling.start - t.startedAt) / 1000 : null,
    probes: probes.map((p) => ({ compiler: p.compiler, atS: (p.at - t.startedAt) / 1000, ms: p.ms })),
    idleMs: idle.map((b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, Math.round(v)]))),
    // The share of the build in which each builder had a job running (its CPU share is the sampled busy fraction).
    runningFraction: idle.map((b) => 1 - Object.values(b).reduce((x, y) => x + y, 0) / (t.endedAt - t.startedAt)),
    idleTotalMs: Object.fromEntries(Object.entries(total).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v)])),
    // The same steps per job, s after the build started (for reading one build closely).
    // The first wave's allocations (the first 2 x slots asked): each one's wait and the daemon thread's busy share then.
    firstAllocations: [...jobs].filter((j) => j.allocationWaitMs !== undefined).sort((a, b) => a.asked - b.asked).slice(0, 2 * t.slots).map((j) => ({ src: path.basename(j.src), waitMs: j.allocationWaitMs, threadBusyPct: j.threadBusyPct })),
    perJob: jobs.map((j) => ({ src: path.basename(j.src), builder: j.builder, ...(j.allocationWaitMs !== undefined ? { allocationWaitMs: j.allocationWaitMs, threadBusyPct: j.threadBusyPct } : {}), ...Object.fromEntries(STEPS.filter((s) => j[s] !== undefined).map((s) => [s, +((j[s] - t.startedAt) / 1000).toFixed(3)])) })).sort((a, b) => (a.miss ?? 0) - (b.miss ?? 0)),
  };
}

const fmt = (x) => (x === null || x === undefined ? '-' : x.toFixed(2));

async function main() {
  const args = Object.fromEntries(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k, v ?? true]; }));
  const o = {
    project: args.project ?? 'yaml-cpp', jobs: Number(args.jobs ?? 8), slots: Number(args.slots ?? 2), units: Number(args.units ?? 120),
    fixtures: path.resolve(args.fixtures ?? path.join(REPO, '.fixtures')), timeline: true,
    log: (...a) => process.stderr.write(`[farm-timeline] ${a.join(' ')}\n`),
  };
  const work = path.resolve(args.work ?? path.join(REPO, '.bench-work', 'farm-timeline'));
  fs.rmSync(work, { recursive: true, force: true });
  const sides = [{ name: 'this', repo: REPO }, ...(args.vs ? [{ name: 'vs', repo: path.resolve(args.vs) }] : [])];
  for (const s of sides) {
    s.dir = path.join(work, s.name);
    fs.mkdirSync(s.dir, { recursive: true });
    s.project = buildProject({ ...o, repo: s.repo }, s.dir);
  }
  const rows = [];
  for (let round = 1; round <= Number(args.rounds ?? 1); round++) {
    let plainMs = null;
    if (args.plain) {
      sides[0].project.clean();
      const r = run(['taskset', '-c', '0', ...sides[0].project.plain], { cwd: sides[0].project.cwd });
      if (r.error) throw new Error(`plain build: ${r.error}`);
      plainMs = r.ms;
    }
    for (const s of round % 2 ? sides : [...sides].reverse()) {
      s.project.clean();
      const load = os.loadavg()[0];
      const f = await farmBuildOnce({ ...o, repo: s.repo }, s.dir, s.project, round);
      fs.writeFileSync(path.join(s.dir, `timeline${round}.json`), JSON.stringify(f.timeline));
      const sum = summarize({ ...f.timeline, slots: o.slots });
      const row = {
        round, side: s.name, repo: s.repo, load: [load, os.loadavg()[0]], farmMs: f.farmMs, plainOneCoreMs: plainMs, ratio: plainMs ? plainMs / f.farmMs : null,
        remote: f.remote?.compiles ?? 0, misses: f.misses, fallbacks: f.fallbacks,
        busy: f.builders.map((b) => b.busyFraction), busyFirstTenth: f.builders.map((b) => b.byTenth[0]), byTenth: f.builders.map((b) => b.byTenth),
        ...sum,
      };
      rows.push(row);
      o.log(`round ${round} ${s.name} (load ${row.load.map((x) => x.toFixed(1)).join('→')}): farm ${(f.farmMs / 1000).toFixed(1)} s${plainMs ? `, plain one core ${(plainMs / 1000).toFixed(1)} s: ${row.ratio.toFixed(2)}x` : ''}; ${row.remote}/${row.misses} remote, fallbacks ${JSON.stringify(row.fallbacks ?? {})}; `
        + `busy ${row.busy.map((x) => (100 * x).toFixed(0)).join('/')} %, first tenth ${row.busyFirstTenth.map((x) => (x === null ? '-' : (100 * x).toFixed(0))).join('/')} %; `
        + `first job (s after the build started): call ${fmt(sum.first.call)}, miss ${fmt(sum.first.miss)}, toolchain ${fmt(sum.first.toolchain)}, prepared ${fmt(sum.first.prepared)}, asked ${fmt(sum.first.asked)}, allocated ${fmt(sum.first.allocated)}, run start ${fmt(sum.first.runStart)}; every slot running ${fmt(sum.allSlotsBusyS)}; `
        + `first allocations ${sum.firstAllocations.map((a) => `${a.waitMs} ms (thread ${a.threadBusyPct} %)`).join(', ') || '-'}; `
        + `probes ${sum.probes.map((p) => `${path.basename(p.compiler)} ${p.ms} ms at ${p.atS.toFixed(2)} s`).join(', ') || 'none in the build'}; idle ms by cause ${JSON.stringify(sum.idleTotalMs)}`);
    }
  }
  const bySide = {};
  for (const r of rows) (bySide[r.side] ??= []).push(r);
  for (const [side, rs] of Object.entries(bySide)) {
    o.log(`${side}: medians: first run start ${fmt(median(rs.map((r) => r.first.runStart)))} s, busy ${(100 * median(rs.map((r) => (r.busy[0] + r.busy[1]) / 2))).toFixed(0)} %, first tenth ${(100 * median(rs.map((r) => ((r.busyFirstTenth[0] ?? 0) + (r.busyFirstTenth[1] ?? 0)) / 2))).toFixed(0)} %, farm ${(median(rs.map((r) => r.farmMs)) / 1000).toFixed(1)} s${rs[0].ratio ? `, ratio ${median(rs.map((r) => r.ratio)).toFixed(2)}x` : ''}`);
  }
  if (args.json) fs.writeFileSync(path.resolve(args.json), JSON.stringify(rows, null, 2));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
