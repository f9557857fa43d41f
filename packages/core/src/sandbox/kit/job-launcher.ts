import { nativeClientPath } from "../../client/native-client-path.js";
import { Logger, parseLogLevel, stderrSink } from "../../util/logger.js";
import { HelperProcess, type HelperAnswer } from "../../util/helper-process.js";

/** A job command for the launcher: its streams go to files, and it joins its cgroups and takes its rlimits before its exec. */
export interface LaunchRequest {
  argv: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  stdoutPath: string;
  stderrPath: string;
  /** Where the command's fd 3 writes (bwrap's `--json-status-fd 3`). */
  fd3Path?: string;
  /** `cgroup.procs` files the command's process joins before its exec (so everything it forks is in them). */
  cgroupProcs?: readonly string[];
  /** RLIMIT_FSIZE and RLIMIT_AS in bytes (RLIMIT_CORE is then 0). */
  rlimits?: { fileBytes: number; addressSpaceBytes?: number };
}

/** How a launched command ended. */
export type LaunchEnd = { kind: "exited"; code: number } | { kind: "signaled"; signal: number } | { kind: "not-started"; errno: number };

/** A launched command: how it ends, and a kill (SIGKILL) of its process. */
export interface Launched {
  ended: Promise<LaunchEnd>;
  kill(): void;
}

/** The launcher died with the command running (the command was killed with it): the caller runs it again another way. */
export class LauncherLost extends Error {
  constructor(why: string) {
    super(`the job launcher stopped (${why})`);
    this.name = "LauncherLost";
  }
}

interface Pending {
  resolve: (end: LaunchEnd) => void;
  reject: (err: Error) => void;
}

/** How many times a helper that died is replaced before jobs are spawned from Node for good. */
const MAX_RESTARTS = 3;
/** The native helper's limit on cgroup.procs files per command. */
const MAX_CGROUP_FILES = 16;

/**
 * Starts sandbox jobs through `reprise-native --spawn-helper`
 * (native/spawn-helper.inc.c), one long-lived small process per Node
 * process: Node 20's `child_process.spawn` is a fork() of the whole caller
 * (libuv 1.46 does not use vfork or posix_spawn on Linux), whose page
 * tables are large in a builder or a daemon; the helper's fork costs a
 * fraction of it. The helper also joins the job's cgroups and sets its
 * rlimits in the child before the exec, which a shell did before.
 *
 * `launch` returns undefined when no helper can run (none built, or it
 * died more than a few times): the caller spawns the job itself, as
 * before, and `fallbacks` counts those jobs. The jobs of a helper that died
 * end with `LauncherLost` (they were killed with it).
 */
export class JobLauncher {
  private static instance: JobLauncher | undefined;
  private child: HelperProcess | undefined;
  private broken: string | undefined;
  private nextId = 0;
  private readonly pending = new Map<string, Pending>();
  /** Jobs started without the launcher because it was unavailable. */
  fallbacks = 0;
  /** Jobs started through the launcher. */
  launched = 0;
  /** Helpers that died and were replaced. */
  restarts = 0;

  constructor(
    private readonly executable: string | undefined,
    private readonly logger: Logger = new Logger(parseLogLevel(process.env.REPRISE_LOG), stderrSink, "job-launcher"),
  ) {
    if (!executable) this.broken = "no native reprise-native binary was built or installed";
  }

  /** The process's one launcher: the package's native client, unless REPRISE_JOB_LAUNCHER=0. */
  static shared(): JobLauncher {
    JobLauncher.instance ??= new JobLauncher(process.env.REPRISE_JOB_LAUNCHER === "0" ? undefined : nativeClientPath());
    if (process.env.REPRISE_JOB_LAUNCHER === "0") JobLauncher.instance.broken ??= "REPRISE_JOB_LAUNCHER=0";
    return JobLauncher.instance;
  }

  /** Why jobs are spawned directly, or undefined while the launcher works. */
  get unavailable(): string | undefined {
    return this.broken;
  }

  /** The helper's process id while it runs. */
  get pid(): number | undefined {
    return this.broken ? undefined : this.child?.pid;
  }

  /** Starts `request`; undefined (and counted) when the launcher cannot, so the caller spawns it itself. */
  launch(request: LaunchRequest): Launched | undefined {
    const body = this.broken ? undefined : this.encode(request);
    const child = body && (this.child ?? this.start());
    if (!body || !child) {
      if (this.fallbacks++ === 0 && this.broken) this.logger.warn("sandbox jobs are spawned from Node, without the job launcher: %s", this.broken);
      return undefined;
    }
    const id = String(++this.nextId);
    const ended = new Promise<LaunchEnd>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // Only a pending answer keeps the process alive: an idle helper never does.
    child.holdOpen(true);
    child.send(Buffer.concat([Buffer.from(`${id}\0`), body]));
    this.launched++;
    return {
      ended,
      kill: () => {
        if (this.pending.has(id) && this.child && !this.broken) this.child.send(Buffer.from(`${id}\0k\0`));
      },
    };
  }

  /** Ends the helper once its commands are answered (it exits at the end of its input). */
  close(): void {
    this.broken ??= "closed";
    this.child?.end();
  }

  /** The request after its id, or undefined when the helper cannot carry it (a NUL in a field; too many cgroups). */
  private encode(r: LaunchRequest): Buffer | undefined {
    const flags = `${r.fd3Path !== undefined ? "3" : ""}${r.cgroupProcs ? "c" : ""}${r.rlimits ? "r" : ""}` || "-";
    const vars = Object.entries(r.env).map(([k, v]) => `${k}=${v}`);
    const fields = [flags, r.cwd, r.stdoutPath, r.stderrPath];
    if (r.fd3Path !== undefined) fields.push(r.fd3Path);
    if (r.cgroupProcs) {
      if (r.cgroupProcs.length > MAX_CGROUP_FILES) return undefined;
      fields.push(String(r.cgroupProcs.length), ...r.cgroupProcs);
    }
    if (r.rlimits) fields.push(`${Math.max(0, Math.floor(r.rlimits.fileBytes))} ${Math.max(0, Math.floor(r.rlimits.addressSpaceBytes ?? 0))}`);
    fields.push(String(r.argv.length), ...r.argv, String(vars.length), ...vars);
    // A NUL cannot cross exec; the caller's own spawn reports it as Node does.
    if (fields.some((f) => f.includes("\0"))) return undefined;
    return Buffer.from(`${fields.join("\0")}\0`);
  }

  private start(): HelperProcess | undefined {
    if (this.broken || !this.executable) return undefined;
    try {
      // A helper that died and was replaced says nothing more (HelperProcess reports its end once).
      this.child = new HelperProcess(this.executable, { answer: (a) => this.answered(a), failed: (why) => this.fail(why) });
      // The process may end while the helper idles; stdin's end then stops it.
      this.child.holdOpen(false);
      return this.child;
    } catch (err) {
      this.fail((err as Error).message);
      return undefined;
    }
  }

  private answered(a: HelperAnswer): boolean {
    const pending = this.pending.get(a.id);
    if (!pending) return false;
    this.pending.delete(a.id);
    if (this.pending.size === 0) this.child?.holdOpen(false);
    pending.resolve(a.kind === "x" ? { kind: "exited", code: a.value } : a.kind === "s" ? { kind: "signaled", signal: a.value } : { kind: "not-started", errno: a.value });
    return true;
  }

  /** The helper is gone or talks nonsense: its jobs are lost, and the next job starts a new one, a few times at most. */
  private fail(why: string): void {
    const child = this.child;
    this.child = undefined;
    child?.kill();
    if (!this.broken) {
      this.restarts++;
      if (this.restarts > MAX_RESTARTS) this.broken = `${why}, ${MAX_RESTARTS} times restarted`;
      this.logger.warn("the job launcher stopped (%s); %s", why, this.broken ? "sandboxes spawn their jobs themselves from now on" : "the next job starts a new one");
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(new LauncherLost(why));
  }
}

/** An errno number as Node names it, for a launch that could not start. */
export function errnoName(errno: number): string {
  const names: Record<number, string> = { 1: "EPERM", 2: "ENOENT", 7: "E2BIG", 8: "ENOEXEC", 12: "ENOMEM", 13: "EACCES", 20: "ENOTDIR", 22: "EINVAL", 28: "ENOSPC" };
  return names[errno] ?? `errno ${errno}`;
}
