import { accessSync, constants as fsConstants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { listDir } from "../../util/list-dir.js";

/**
 * A cgroup per job: the ceiling on processes and memory that holds for the
 * job as a whole (every process it forks, whatever uid it runs as), which
 * per-process rlimits cannot give (`RLIMIT_NPROC` counts every process of the
 * user on the host, and is not checked at all for root).
 *
 * Works with cgroup v2 (the unified hierarchy, `pids` and `memory`
 * controllers enabled for the daemon's cgroup) and with v1 hierarchies of
 * `pids` and `memory` (hybrid systems such as this Debian VM), each job's
 * cgroup made below the daemon's own cgroup of that controller.
 */
export interface JobCgroupLimits {
  /** Most processes (and threads) at once. */
  maxProcesses: number;
  /** Most memory charged to the job (RAM, and swap where the kernel accounts it). */
  memoryBytes?: number;
}

/** What a job ran into, read from the cgroup's event counters after the job. */
export interface CgroupEvents {
  /** A fork or clone was refused at the process limit. */
  processLimitHit: boolean;
  /** The kernel's OOM killer ended a process of the job at the memory limit. */
  memoryLimitHit: boolean;
}

interface ControllerDir {
  controller: "pids" | "memory";
  /** The daemon's own cgroup directory for this controller; job cgroups are made below it. */
  parent: string;
  version: 1 | 2;
}

let sequence = 0;

/** Tries of `removeWhenGone` (waits of 1, 2, 4, 8, then 10 ms: about 1 s in all). */
const REMOVE_ATTEMPTS = 100;

/** The leaf a daemon alone in a delegated v2 cgroup moves into, so that job cgroups can be made beside it. */
const DAEMON_LEAF = "reprise-daemon";

/** One job's cgroup(s): one directory on v2, one per controller on v1. */
export class JobCgroup {
  private constructor(
    private readonly dirs: { dir: string; controllers: ControllerDir["controller"][]; version: 1 | 2 }[],
  ) {}

  /** The `cgroup.procs` files a process writes its pid into to join the job (before it forks anything). */
  get procsFiles(): string[] {
    return this.dirs.map((d) => join(d.dir, "cgroup.procs"));
  }

  static create(plan: JobCgroupPlan, limits: JobCgroupLimits): JobCgroup {
    const name = `reprise-job-${process.pid}-${++sequence}-${Date.now().toString(36)}`;
    const byParent = new Map<string, { dir: string; controllers: ControllerDir["controller"][]; version: 1 | 2 }>();
    for (const c of plan.controllers) {
      const entry = byParent.get(c.parent) ?? { dir: join(c.parent, name), controllers: [], version: c.version };
      entry.controllers.push(c.controller);
      byParent.set(c.parent, entry);
    }
    const cgroup = new JobCgroup([...byParent.values()]);
    try {
      for (const d of cgroup.dirs) {
        mkdirSync(d.dir, { mode: 0o755 });
        for (const controller of d.controllers) writeLimits(d.dir, controller, d.version, limits);
      }
    } catch (err) {
      cgroup.remove();
      throw err;
    }
    return cgroup;
  }

  events(): CgroupEvents {
    let processLimitHit = false;
    let memoryLimitHit = false;
    for (const d of this.dirs) {
      if (d.controllers.includes("pids") && counter(join(d.dir, "pids.events"), "max") > 0) processLimitHit = true;
      if (d.controllers.includes("memory")) {
        const file = d.version === 2 ? "memory.events" : "memory.oom_control";
        if (counter(join(d.dir, file), "oom_kill") > 0) memoryLimitHit = true;
      }
    }
    return { processLimitHit, memoryLimitHit };
  }

  /** Kills every process still in the job's cgroup (a fork bomb's children that outlived their parent). */
  killAll(): void {
    for (const d of this.dirs) killEveryProcess(d.dir);
  }

  /** Removes the job's cgroup directories, waiting briefly for killed processes to be reaped. */
  remove(): void {
    for (const d of this.dirs) {
      for (let attempt = 0; !removedOrGone(d.dir, attempt === 199); attempt++) {
        if (attempt % 10 === 0) this.killAll();
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
  }

  /**
   * Removes the job's cgroup directories without blocking: right after a
   * job's bwrap ends, its namespace's processes may still be on their way
   * out for a moment (about every other job here), so an EBUSY is tried again
   * after a short wait, and what is still there after a few tries is killed.
   */
  async removeWhenGone(): Promise<void> {
    for (const d of this.dirs) {
      for (let attempt = 0; !removedOrGone(d.dir, attempt === REMOVE_ATTEMPTS - 1); attempt++) {
        if (attempt % 10 === 3) this.killAll();
        await new Promise((resolve) => setTimeout(resolve, Math.min(1 << attempt, 10)));
      }
    }
  }

  /** Whether every process of the job is gone. */
  isEmpty(): boolean {
    return this.dirs.every((d) => listPids(d.dir).length === 0);
  }
}

/** Where job cgroups can be made on this host, found once. */
export interface JobCgroupPlan {
  controllers: ControllerDir[];
  /** "v2", "v1" or "v1+v2": for logs and the docs. */
  description: string;
}

/**
 * Finds, for the `pids` and `memory` controllers, a cgroup directory below
 * which this process may make job cgroups, and checks it by making (and
 * removing) one. A string says why no per-job ceiling can be enforced here.
 */
export function planJobCgroups(): JobCgroupPlan | string {
  const membership = readMembership();
  const mounts = readCgroupMounts();
  const found: ControllerDir[] = [];
  const problems: string[] = [];
  for (const controller of ["pids", "memory"] as const) {
    const v1 = mounts.find((m) => m.type === "cgroup" && m.options.includes(controller));
    if (v1) {
      const own = membership.find((l) => l.controllers.split(",").includes(controller));
      if (!own) {
        problems.push(`no ${controller} cgroup in /proc/self/cgroup`);
        continue;
      }
      found.push({ controller, parent: join(v1.mountPoint, relativeTo(own.path, v1.root)), version: 1 });
      continue;
    }
    const v2 = mounts.find((m) => m.type === "cgroup2");
    const own = membership.find((l) => l.hierarchy === "0");
    if (!v2 || !own) {
      problems.push(`no cgroup hierarchy has the ${controller} controller`);
      continue;
    }
    // A daemon that moved itself into its leaf (below) makes job cgroups beside it, in the cgroup it left.
    const ownPath = own.path.endsWith(`/${DAEMON_LEAF}`) ? own.path.slice(0, -DAEMON_LEAF.length - 1) || "/" : own.path;
    const parent = join(v2.mountPoint, relativeTo(ownPath, v2.root));
    const problem = enableV2Controller(parent, controller);
    if (problem) problems.push(problem);
    else found.push({ controller, parent, version: 2 });
  }
  if (problems.length) return `cannot limit a job's processes and memory with cgroups: ${problems.join("; ")}`;
  for (const c of found) {
    try {
      accessSync(c.parent, fsConstants.W_OK);
    } catch {
      return `cannot limit a job's processes and memory: the ${c.controller} cgroup ${c.parent} is not writable by this user (run the daemon in a cgroup delegated to it, e.g. systemd-run --user --scope -p Delegate=yes)`;
    }
  }
  const plan: JobCgroupPlan = { controllers: found, description: [...new Set(found.map((c) => `v${c.version}`))].join("+") };
  for (const c of found) removeStaleJobCgroups(c.parent);
  try {
    const trial = JobCgroup.create(plan, { maxProcesses: 8, memoryBytes: 64 * 1024 ** 2 });
    trial.remove();
  } catch (err) {
    return `cannot make a job cgroup: ${(err as Error).message}`;
  }
  return plan;
}

/**
 * Job cgroups a killed daemon or builder left: what still runs in them is
 * killed, then they are removed. Most of a killed job dies with its bwrap,
 * but a bwrap killed while setting up its sandbox leaves its child (pid 1 of
 * the new namespace) waiting forever for a signal that will not come.
 */
function removeStaleJobCgroups(parent: string): void {
  for (const name of listDir(parent)) {
    const pid = /^reprise-job-(\d+)-/.exec(name)?.[1];
    if (!pid || Number(pid) === process.pid || isAlive(Number(pid))) continue;
    const dir = join(parent, name);
    killEveryProcess(dir);
    try {
      for (let attempt = 0; !removedOrGone(dir, attempt === 19); attempt++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    } catch {
      // still busy after ~0.1 s, or not ours: left for the next look
    }
  }
}

/** Kills every process in the cgroup `dir` (v2 through `cgroup.kill`; v1 has none: what is listed, until nothing is — forks are refused past the limit, so this ends). */
function killEveryProcess(dir: string): void {
  if (existsSync(join(dir, "cgroup.kill"))) {
    tryWrite(join(dir, "cgroup.kill"), "1");
    return;
  }
  for (let round = 0; round < 100; round++) {
    const pids = listPids(dir);
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function writeLimits(dir: string, controller: ControllerDir["controller"], version: 1 | 2, limits: JobCgroupLimits): void {
  if (controller === "pids") {
    writeFileSync(join(dir, "pids.max"), String(limits.maxProcesses));
    return;
  }
  if (limits.memoryBytes === undefined) return;
  const bytes = String(limits.memoryBytes);
  if (version === 2) {
    writeFileSync(join(dir, "memory.max"), bytes);
    if (existsSync(join(dir, "memory.swap.max"))) writeFileSync(join(dir, "memory.swap.max"), "0");
    return;
  }
  writeFileSync(join(dir, "memory.limit_in_bytes"), bytes);
  // RAM + swap no higher than RAM alone: the job cannot swap its way past the limit.
  if (existsSync(join(dir, "memory.memsw.limit_in_bytes"))) writeFileSync(join(dir, "memory.memsw.limit_in_bytes"), bytes);
}

/** On v2 a child gets a controller only if its parent's `cgroup.subtree_control` enables it. */
function enableV2Controller(parent: string, controller: string): string | undefined {
  const available = readText(join(parent, "cgroup.controllers"))?.split(/\s+/) ?? [];
  if (!available.includes(controller)) return `the ${controller} controller is not available in cgroup ${parent} (not delegated to it)`;
  const enabled = readText(join(parent, "cgroup.subtree_control"))?.split(/\s+/) ?? [];
  if (enabled.includes(controller)) return undefined;
  try {
    writeFileSync(join(parent, "cgroup.subtree_control"), `+${controller}`);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EBUSY: the cgroup holds processes, and v2 lets only leaves hold them. When the only one is this
    // process (a daemon started in a delegated cgroup of its own), it moves into a leaf below, as
    // systemd's delegation rules ask, and the controllers are enabled for job cgroups beside it.
    if (code === "EBUSY" && moveSelfIntoLeaf(parent)) {
      try {
        writeFileSync(join(parent, "cgroup.subtree_control"), `+${controller}`);
        return undefined;
      } catch (again) {
        return `cannot enable ${controller} in ${parent}: ${(again as Error).message}`;
      }
    }
    if (code === "EBUSY") return `cgroup ${parent} holds other processes, so it cannot enable ${controller} for job cgroups (start the daemon alone in a delegated cgroup: systemd-run --user --scope -p Delegate=yes reprise --start-server)`;
    return `cannot enable ${controller} in ${parent}: ${(err as Error).message}`;
  }
}

function moveSelfIntoLeaf(parent: string): boolean {
  const pids = listPids(parent);
  if (pids.length !== 1 || pids[0] !== process.pid) return false;
  const leaf = join(parent, DAEMON_LEAF);
  try {
    if (!existsSync(leaf)) mkdirSync(leaf, { mode: 0o755 });
    writeFileSync(join(leaf, "cgroup.procs"), String(process.pid));
    return true;
  } catch {
    return false;
  }
}

interface Membership {
  hierarchy: string;
  controllers: string;
  path: string;
}

function readMembership(): Membership[] {
  const text = readText("/proc/self/cgroup") ?? "";
  const out: Membership[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m) out.push({ hierarchy: m[1]!, controllers: m[2]!, path: m[3]! });
  }
  return out;
}

interface CgroupMount {
  type: "cgroup" | "cgroup2";
  root: string;
  mountPoint: string;
  options: string[];
}

function readCgroupMounts(): CgroupMount[] {
  const text = readText("/proc/self/mountinfo") ?? "";
  const out: CgroupMount[] = [];
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const fields = left.split(" ");
    const [type, , superOptions] = right.split(" ");
    if (type !== "cgroup" && type !== "cgroup2") continue;
    out.push({ type, root: unescapeMount(fields[3]!), mountPoint: unescapeMount(fields[4]!), options: (superOptions ?? "").split(",") });
  }
  return out;
}

/** The part of `path` below `root` (a cgroup namespace or a container mounts a subtree). */
function relativeTo(path: string, root: string): string {
  if (root === "/" || !path.startsWith(root)) return path;
  return path.slice(root.length) || "/";
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function counter(file: string, name: string): number {
  const m = new RegExp(`^${name} (\\d+)$`, "m").exec(readText(file) ?? "");
  return m ? Number(m[1]) : 0;
}

function listPids(dir: string): number[] {
  return (readText(join(dir, "cgroup.procs")) ?? "")
    .split("\n")
    .filter(Boolean)
    .map(Number);
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function tryWrite(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch {
    // the cgroup is gone already
  }
}

/** Removes a cgroup directory: true once it is gone, false while processes still leave it (EBUSY); throws on anything else, or when busy on the `last` try. */
function removedOrGone(dir: string, last: boolean): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return true;
    if (code !== "EBUSY" || last) throw err;
    return false;
  }
}
