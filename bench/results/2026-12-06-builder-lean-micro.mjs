// The two per-job cuts of branch builder-lean measured apart, in this process (CPU from process.cpuUsage: user and
// system, so the kernel's work in the syscalls is counted; the kernel's deferred work in its own threads is not).
// 1. The run request's check: zod's RunRequestSchema.safeParse against the plain check (isPlainRunRequest), on a
//    request the size of a libuv job (190 inputs), parsed from JSON each time as the builder does.
// 2. A job's cgroup: made and removed per job (JobCgroup.create + removeWhenGone) against a pool (acquire + release),
//    with one short process (`true`) joining it as a job's bwrap would. Needs root (or a delegated cgroup). The pool
//    (JobCgroupPool) was tried in commit 9491b10 and taken out again (no saving): run with W= a build of that commit.
// usage: node 2026-12-06-builder-lean-micro.mjs [rounds, default 5]; W=checkout (default: this one), built.
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const W = process.env.W ?? resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const { RunRequestSchema, jobToWire } = await import(join(W, "packages/dist/dist/builder/job-message.js"));
const { isPlainRunRequest } = await import(join(W, "packages/dist/dist/builder/run-request-check.js"));
const kit = await import(join(W, "packages/core/dist/bundle/sandbox-kit.js"));
const rounds = Number(process.argv[2] ?? 5);

const cpuMs = (f) => {
  const c = process.cpuUsage();
  f();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const inputs = Array.from({ length: 190 }, (_, i) => ({ path: `/work/src/libuv1/${i % 3 ? "include/uv" : "src/unix"}/file-${i}.h`, hash: i.toString(16).padStart(64, "a"), size: 1000 + i }));
const job = { toolchainId: "c".repeat(64), argv: ["/usr/bin/cc", "-DWIN32_LEAN", "-I/work/src/libuv1/include", "-O2", "-g", "-c", "/work/src/libuv1/src/unix/core.c", "-o", "core.o"], cwd: "/work/b", env: { PWD: "/work/b", LANG: "C" }, inputs, outputs: [{ role: "object", path: "/work/b/core.o" }], limits: { timeoutMs: 600000, maxOutputBytes: 1 << 30, memoryBytes: 2 * 1024 ** 3, maxProcesses: 256 }, directories: ["/work/src/libuv1/include"] };
const text = JSON.stringify({ toolchainId: job.toolchainId, job: jobToWire(job) });
const N = 2000;
for (let r = 0; r < rounds; r++) {
  const zod = cpuMs(() => { for (let i = 0; i < N; i++) if (!RunRequestSchema.safeParse(JSON.parse(text)).success) throw new Error("refused"); });
  const plain = cpuMs(() => { for (let i = 0; i < N; i++) if (!isPlainRunRequest(JSON.parse(text))) throw new Error("refused"); });
  const parse = cpuMs(() => { for (let i = 0; i < N; i++) JSON.parse(text); });
  console.log(`run request, round ${r + 1}: JSON.parse alone ${(1000 * parse / N).toFixed(1)} us; with zod ${(1000 * zod / N).toFixed(1)} us; with the plain check ${(1000 * plain / N).toFixed(1)} us`);
}

const plan = kit.planJobCgroups();
if (typeof plan === "string") throw new Error(plan);
const limits = { maxProcesses: 258, memoryBytes: 2 * 1024 ** 3 };
const join1 = (c) => spawnSync("sh", ["-c", 'for f in "$@"; do echo $$ > "$f"; done; exec true', "sh", ...c.procsFiles]);
const J = 100;
const pool = kit.JobCgroupPool ? new kit.JobCgroupPool(plan) : undefined;
for (let r = 0; r < rounds; r++) {
  const a = [], b = [], s = [];
  for (let i = 0; i < J; i++) {
    let c0 = process.cpuUsage();
    join1({ procsFiles: [] }); // the spawn alone, for scale
    let d = process.cpuUsage(c0); s.push((d.user + d.system) / 1000);
    c0 = process.cpuUsage();
    const made = kit.JobCgroup.create(plan, limits);
    join1(made);
    await made.removeWhenGone();
    d = process.cpuUsage(c0); a.push((d.user + d.system) / 1000);
    if (!pool) continue;
    c0 = process.cpuUsage();
    const kept = pool.acquire(limits);
    join1(kept);
    await pool.release(kept);
    d = process.cpuUsage(c0); b.push((d.user + d.system) / 1000);
  }
  console.log(`job cgroup, round ${r + 1} (median of ${J}, ms of CPU per job with its spawn of sh): spawn alone ${median(s).toFixed(3)}; made and removed ${median(a).toFixed(3)}${pool ? `; pooled ${median(b).toFixed(3)} (pool: ${JSON.stringify(pool.counts)})` : ""}`);
}
pool?.clear();
