import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { CompileJob, JobMaterials, JobResult, Sandbox } from "@reprise/core";
import {
  exitStatus,
  findProgram,
  finishJob,
  finishStreams,
  JobCgroup,
  planJobCgroups,
  planJobLayout,
  SandboxError,
  versionAtLeast,
  watchDiskUsage,
  type JobCgroupPlan,
  type JobLayout,
  JobLauncher,
  LauncherLost,
} from "@reprise/core/sandbox-kit";
import { JobStop, launchJob, watchLaunched, type JobRun } from "./launched-job.js";
import { parseBwrapOptions, type ParsedBwrapOptions } from "./options.js";

interface Ready {
  bwrap: string;
  version: string;
  prlimit?: string;
  /** `--disable-userns` and `--size` (bwrap 0.8). */
  modern: boolean;
  /** Where each job's cgroup is made, and the shell that moves bwrap into it before it forks; absent with `enforceLimits: false`. */
  cgroups?: { plan: JobCgroupPlan; sh: string };
}

/** Processes of bwrap itself in the job's cgroup (the monitor and the pid namespace's init), on top of the job's own. */
const BWRAP_PROCESSES = 2;
/** The job's processes when its limits name none. */
const DEFAULT_MAX_PROCESSES = 1024;

/**
 * Joins the cgroups named before `--` (writing its pid into each
 * `cgroup.procs`), then execs the command after it: bwrap and everything it
 * forks are in the job's cgroup from their first instruction.
 */
const JOIN_CGROUP_SCRIPT = 'for f do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; shift; done; shift; exec "$@"';

const MIN_VERSION = "0.5.0";

/**
 * The rlimits prlimit would set, as POSIX `ulimit` commands: a file size of
 * at least `fileBytes` (the shell counts 512-byte blocks, so up to 511 bytes
 * more: the outputs' sizes are checked after the job as well), no core
 * files, and the address space in KiB.
 */
function ulimitCommands(fileBytes: number, addressSpaceBytes: number | undefined): string {
  const commands = [`ulimit -f ${Math.ceil(fileBytes / 512)}`, "ulimit -c 0"];
  if (addressSpaceBytes) commands.push(`ulimit -v ${Math.floor(addressSpaceBytes / 1024)}`);
  return commands.join(" && ");
}

/**
 * Runs jobs with bubblewrap: new namespaces for everything (network included),
 * the toolchain as the read-only root, the job's inputs read-only at their own
 * paths, a fresh writable directory at the job's cwd, and nothing else of the
 * host. The job runs as uid/gid 65534 with no capabilities; killing bwrap
 * (time limit, output limit, cancel) ends its pid namespace and so every
 * process of the job.
 */
export class BwrapSandbox implements Sandbox {
  readonly name = "bwrap";
  private readonly options: ParsedBwrapOptions | string;
  private readiness?: Promise<Ready | string>;

  /** `launcher`: where jobs are started (default: the process's shared one; tests give their own). */
  constructor(
    options?: Record<string, unknown>,
    private readonly launcher?: JobLauncher,
  ) {
    this.options = parseBwrapOptions(options);
  }

  async probe(): Promise<{ usable: true } | { usable: false; reason: string }> {
    const r = await this.ready();
    return typeof r === "string" ? { usable: false, reason: r } : { usable: true };
  }

  /** bwrap's version and features once it has shown it can make namespaces here; a string says why not. */
  ready(): Promise<Ready | string> {
    this.readiness ??= this.check();
    return this.readiness;
  }

  private async check(): Promise<Ready | string> {
    const o = this.options;
    if (typeof o === "string") return `bwrap sandbox: ${o}`;
    const bwrap = findProgram(o.bwrap ?? "bwrap");
    if (!bwrap) return o.bwrap ? `bwrap not found at ${o.bwrap}` : "bwrap (bubblewrap) is not installed (apt-get install bubblewrap)";
    const v = await execa(bwrap, ["--version"], { reject: false, timeout: 10_000 });
    const version = /(\d+\.\d+(?:\.\d+)?)/.exec(String(v.stdout))?.[1];
    if (v.exitCode !== 0 || !version) return `${bwrap} --version failed: ${String(v.stderr || v.stdout).trim()}`;
    if (!versionAtLeast(version, MIN_VERSION)) return `bubblewrap ${version} is too old (${MIN_VERSION} or later is needed)`;
    const modern = versionAtLeast(version, "0.8.0");
    let prlimit: string | undefined;
    if (o.prlimit !== false) {
      prlimit = findProgram(o.prlimit ?? "prlimit");
      if (!prlimit && o.prlimit) return `prlimit not found at ${o.prlimit}`;
    }
    const trial = await execa(
      bwrap,
      [...unshareArguments(o.proc, modern), "--cap-drop", "ALL", "--die-with-parent", "--ro-bind", "/", "/", "--", "true"],
      { reject: false, timeout: 20_000, env: {}, extendEnv: false },
    );
    if (trial.exitCode !== 0) return `bwrap cannot create namespaces here: ${String(trial.stderr).trim() || `exit status ${trial.exitCode}`}${userNamespaceHint()}`;
    let cgroups: Ready["cgroups"];
    if (o.enforceLimits) {
      const plan = planJobCgroups();
      if (typeof plan === "string") return `${plan} (or set the bwrap option enforceLimits: false to run jobs without a process and memory ceiling)`;
      const sh = findProgram("sh");
      if (!sh) return "no sh on PATH to move bwrap into the job's cgroup";
      cgroups = { plan, sh };
    }
    return { bwrap, version, modern, ...(prlimit ? { prlimit } : {}), ...(cgroups ? { cgroups } : {}) };
  }

  async run(job: CompileJob, materials: JobMaterials): Promise<JobResult> {
    const ready = await this.ready();
    if (typeof ready === "string") throw new SandboxError("bwrap sandbox unusable", ready);
    if (materials.signal.aborted) return { exitCode: 128 + 9, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), outputs: [], killed: "cancelled" };

    const launcher = (this.options as ParsedBwrapOptions).launcher ? (this.launcher ?? JobLauncher.shared()) : undefined;
    const layout = planJobLayout(job, materials, { base: "empty" });
    try {
      return await this.runLaidOut(job, layout, ready, materials, launcher);
    } catch (err) {
      if (!(err instanceof LauncherLost)) throw err;
      launcher!.fallbacks++;
    } finally {
      layout.release();
    }
    // The launcher died with the job (killing it): the job runs again, spawned from here, in a layout of its own.
    const again = join(materials.scratchDir, "again");
    mkdirSync(again, { mode: 0o700 });
    const retry = planJobLayout(job, { ...materials, scratchDir: again }, { base: "empty" });
    try {
      return await this.runLaidOut(job, retry, ready, { ...materials, scratchDir: again }, undefined);
    } finally {
      retry.release();
    }
  }

  private async runLaidOut(job: CompileJob, layout: JobLayout, ready: Ready, materials: JobMaterials, launcher: JobLauncher | undefined): Promise<JobResult> {
    const o = this.options as ParsedBwrapOptions;
    const max = job.limits.maxOutputBytes;
    const argv = bwrapArguments(job, layout, o, ready);
    const addressSpace = o.limitAddressSpace && job.limits.memoryBytes ? job.limits.memoryBytes : undefined;
    let cgroup: JobCgroup | undefined;
    if (ready.cgroups) {
      const maxProcesses = (job.limits.maxProcesses ?? DEFAULT_MAX_PROCESSES) + BWRAP_PROCESSES;
      try {
        cgroup = JobCgroup.create(ready.cgroups.plan, { maxProcesses, ...(job.limits.memoryBytes ? { memoryBytes: job.limits.memoryBytes } : {}) });
      } catch (err) {
        throw new SandboxError("cannot make the job's cgroup", (err as Error).message);
      }
    }
    const stop = new JobStop();
    const stopWatching = watchDiskUsage(
      layout.writable.map((w) => w.hostDir),
      max,
      o.pollIntervalMs,
      () => stop.stop("output-limit"),
    );
    try {
      // Through the launcher, bwrap joins the cgroup and takes the rlimits in the launcher's child before its exec: no shell, no prlimit.
      const rlimits = o.prlimit === false ? undefined : { fileBytes: max + 1, ...(addressSpace ? { addressSpaceBytes: addressSpace } : {}) };
      const request = { argv: [ready.bwrap, ...argv], ...(cgroup ? { cgroupProcs: cgroup.procsFiles } : {}), ...(rlimits ? { rlimits } : {}) };
      const limits = { maxOutputBytes: max, timeoutMs: job.limits.timeoutMs, pollIntervalMs: o.pollIntervalMs };
      const launched = launcher && launchJob(launcher, request, materials.scratchDir);
      const ran = launched ? await watchLaunched(launched, limits, materials.signal, stop) : await this.spawnDirect(job, ready, argv, addressSpace, cgroup, materials.signal, stop);
      stopWatching();
      return await this.finish(ran, job, layout, cgroup);
    } finally {
      stopWatching();
      if (cgroup) {
        try {
          await cgroup.removeWhenGone();
        } catch {
          // still busy after a second of killing: left for the kernel to free once its last process is reaped
        }
      }
    }
  }

  /** bwrap spawned by this process (no launcher): a shell joins the cgroup and sets the rlimits, or prlimit does. */
  private async spawnDirect(job: CompileJob, ready: Ready, argv: string[], addressSpace: number | undefined, cgroup: JobCgroup | undefined, signal: AbortSignal, stop: JobStop): Promise<JobRun> {
    const o = this.options as ParsedBwrapOptions;
    const max = job.limits.maxOutputBytes;
    // The shell that joins the cgroup sets the rlimits itself (one exec of prlimit less per job), unless a prlimit was named.
    const shellLimits = ready.cgroups !== undefined && o.prlimit === undefined;
    const limits = [`--fsize=${max + 1}:${max + 1}`, "--core=0:0", ...(addressSpace ? [`--as=${addressSpace}:${addressSpace}`] : [])];
    let [file, args]: [string, string[]] = ready.prlimit && !shellLimits ? [ready.prlimit, [...limits, "--", ready.bwrap, ...argv]] : [ready.bwrap, argv];
    if (ready.cgroups && cgroup) {
      const script = shellLimits ? `${ulimitCommands(max + 1, addressSpace)} || exit 125; ${JOIN_CGROUP_SCRIPT}` : JOIN_CGROUP_SCRIPT;
      [file, args] = [ready.cgroups.sh, ["-c", script, "reprise-join-cgroup", ...cgroup.procsFiles, "--", file, ...args]];
    }
    const child = execa(file, args, {
      env: {},
      extendEnv: false,
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      encoding: "buffer",
      stripFinalNewline: false,
      maxBuffer: { stdout: max, stderr: max, fd3: 1 << 20 },
      timeout: job.limits.timeoutMs,
      cancelSignal: signal,
      killSignal: "SIGKILL",
      forceKillAfterDelay: false,
      reject: false,
    });
    stop.onStop(() => child.kill("SIGKILL"));
    let printed = 0;
    const count = (chunk: Uint8Array) => {
      printed += chunk.length;
      if (printed > max) stop.stop("output-limit");
    };
    child.stdout?.on("data", count);
    child.stderr?.on("data", count);
    const r = await child;
    if (r.timedOut) stop.stop("timeout");
    else if (r.isCanceled) stop.stop("cancelled");
    else if (r.isMaxBuffer) stop.stop("output-limit");
    return {
      status: exitStatus(r.exitCode, r.signal),
      stdout: asBuffer(r.stdout),
      stderr: asBuffer(r.stderr),
      fd3: asBuffer(r.stdio[3]),
      wasCut: r.isMaxBuffer,
      ...(stop.reason ? { killed: stop.reason } : {}),
    };
  }

  /** The job's result once bwrap has ended, with the disk watch running until then. */
  private async finish(ran: JobRun, job: CompileJob, layout: JobLayout, cgroup: JobCgroup | undefined): Promise<JobResult> {
    const max = job.limits.maxOutputBytes;
    let killed = ran.killed;
    if (!killed && cgroup) {
      const events = cgroup.events();
      if (events.memoryLimitHit) killed = "memory-limit";
      else if (events.processLimitHit) killed = "process-limit";
    }
    const streams = finishStreams(ran.stdout, ran.stderr, max, ran.wasCut);
    const status = parseStatus(ran.fd3);
    if (!killed && status === undefined) throw new SandboxError("bwrap could not run the job", ran.notStarted ?? (ran.stderr.toString("utf8").trim() || `exit status ${ran.status}`));
    return finishJob(layout, status ?? ran.status, streams, max, killed);
  }
}

/** The bwrap command line for a job, without the program (for tests and debugging). */
export function bwrapArguments(job: CompileJob, layout: JobLayout, o: Pick<ParsedBwrapOptions, "uid" | "gid" | "hostname"> & Partial<Pick<ParsedBwrapOptions, "proc">>, features: { modern: boolean }): string[] {
  const proc = o.proc ?? "mount";
  const a: string[] = [
    ...unshareArguments(proc, features.modern),
    "--cap-drop",
    "ALL",
    "--uid",
    String(o.uid),
    "--gid",
    String(o.gid),
    "--hostname",
    o.hostname,
    "--die-with-parent",
    "--new-session",
    "--json-status-fd",
    "3",
    "--clearenv",
  ];
  for (const [k, v] of Object.entries(job.env)) a.push("--setenv", k, v);
  for (const dir of layout.systemDirs) {
    if (dir === "/proc") a.push(...(proc === "bind" ? ["--ro-bind", "/proc", dir] : ["--proc", dir]));
    else if (dir === "/dev") a.push("--dev", dir);
    else if (features.modern) a.push("--size", String(job.limits.maxOutputBytes), "--tmpfs", dir);
    else a.push("--tmpfs", dir);
  }
  for (const op of layout.ops) {
    if (op.op === "ro-bind") a.push("--ro-bind", op.source, op.target);
    else if (op.op === "bind") a.push("--bind", op.source, op.target);
    else if (op.op === "dir") a.push("--dir", op.target);
    else a.push("--symlink", op.linkText, op.target);
  }
  if (!layout.writable.some((w) => w.path === "/")) a.push("--remount-ro", "/");
  a.push("--chdir", job.cwd, "--", ...job.argv);
  return a;
}

/**
 * The namespaces a job gets. With `proc: "bind"` the pid namespace is the
 * surrounding one (a new pid namespace needs its own proc mount, which is what
 * such a host refuses); user, network, IPC, UTS and cgroup namespaces are new.
 */
function unshareArguments(proc: "mount" | "bind", modern: boolean): string[] {
  const namespaces = proc === "bind" ? ["--unshare-user", "--unshare-ipc", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"] : ["--unshare-all", "--unshare-user"];
  return [...namespaces, ...(modern ? ["--disable-userns"] : [])];
}

function asBuffer(v: unknown): Buffer {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return Buffer.from(typeof v === "string" ? v : "");
}

function parseStatus(fd3: Buffer): number | undefined {
  const text = fd3.toString("utf8");
  const m = /"exit-code"\s*:\s*(\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

function userNamespaceHint(): string {
  const read = (p: string) => {
    try {
      return readFileSync(p, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  if (read("/proc/sys/kernel/unprivileged_userns_clone") === "0") return " (kernel.unprivileged_userns_clone is 0)";
  if (read("/proc/sys/user/max_user_namespaces") === "0") return " (user.max_user_namespaces is 0)";
  if (read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") === "1") return " (AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns is 1)";
  return "";
}
