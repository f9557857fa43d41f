#!/usr/bin/env node
// What a fresh daemon costs before it can answer: from exec to its socket
// listening (the default plugins loaded), wall and CPU (/proc ticks), each
// run with its own cache and runtime directories. Median of --runs.
//   node bench/daemon-start.mjs [--runs=9] [--entry=<daemon entry>]...
// Several --entry= are run alternately (e.g. this tree's and a baseline's).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const argv = process.argv.slice(2);
const runs = Number(argv.find((a) => a.startsWith("--runs="))?.slice(7) ?? 9);
const entries = argv.filter((a) => a.startsWith("--entry=")).map((a) => a.slice(8));
if (!entries.length) entries.push(fileURLToPath(new URL("../packages/core/dist/daemon/entry.js", import.meta.url)));
const TICK_MS = 10; // USER_HZ is 100 on Linux

function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

async function startOnce(entry) {
  const root = mkdtempSync(join(tmpdir(), "reprise-bench-start-"));
  const env = { ...process.env, REPRISE_DIR: join(root, "cache"), REPRISE_RUNTIME_DIR: join(root, "run"), REPRISE_IDLE_TIMEOUT: "30" };
  const t0 = performance.now();
  const child = spawn(process.execPath, [entry], { env, stdio: "ignore", cwd: root });
  const sock = join(root, "run", "daemon.sock");
  const deadline = t0 + 60_000;
  while (!existsSync(sock)) {
    if (performance.now() > deadline || child.exitCode !== null) throw new Error(`daemon ${entry} did not start`);
    await new Promise((r) => setTimeout(r, 1));
  }
  const sample = { wall: performance.now() - t0, cpu: cpuMs(child.pid) };
  child.kill("SIGTERM");
  await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
  rmSync(root, { recursive: true, force: true });
  return sample;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const samples = new Map(entries.map((e) => [e, []]));
for (let i = 0; i < runs; i++) for (const e of entries) samples.get(e).push(await startOnce(e));
for (const [e, s] of samples) {
  console.log(`${e}: to listening ${median(s.map((x) => x.wall)).toFixed(0)} ms wall, ${median(s.map((x) => x.cpu))} ms CPU (median of ${runs}; CPU ${s.map((x) => x.cpu).join(" ")})`);
}
