/** bwrap started by core's job launcher (a small native helper) instead of a fork of this Node process. */
import { closeSync, fstatSync, mkdirSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { errnoName, watchDiskUsage, type JobLauncher, type KillReason, type Launched, type LaunchRequest } from "@reprise/core/sandbox-kit";

/** How bwrap ended, whichever way it was started. */
export interface JobRun {
  /** bwrap's own exit status (a shell's: 128 + signal when killed). */
  status: number;
  stdout: Buffer;
  stderr: Buffer;
  /** What bwrap wrote to its `--json-status-fd`. */
  fd3: Buffer;
  /** The streams were cut at the limit while the job ran. */
  wasCut: boolean;
  killed?: KillReason;
  /** Why bwrap could not be started at all. */
  notStarted?: string;
}

/** Ends a job once, for the first reason; a kill registered late runs at once when the job was already stopped. */
export class JobStop {
  reason: KillReason | undefined;
  private kill: (() => void) | undefined;

  stop(reason: KillReason): void {
    this.reason ??= reason;
    this.kill?.();
  }

  onStop(kill: () => void): void {
    this.kill = kill;
    if (this.reason) kill();
  }
}

/** A job started through the launcher, with the host files its streams and bwrap's status go to. */
export interface LaunchedJob {
  launched: Launched;
  /** The directory of the stream files when they are watched (without rlimits). */
  printedDir?: string;
  stdoutPath: string;
  stderrPath: string;
  statusPath: string;
}

/**
 * Starts bwrap through the launcher, its stdout, stderr and status fd going
 * to files in `scratchDir` (outside every mount of the job); undefined when
 * the launcher cannot take it. Without rlimits (`prlimit: false`) the stream
 * files are in a directory of their own, watched while the job runs.
 */
export function launchJob(launcher: JobLauncher, request: Pick<LaunchRequest, "argv" | "cgroupProcs" | "rlimits">, scratchDir: string): LaunchedJob | undefined {
  let printedDir: string | undefined;
  if (!request.rlimits) mkdirSync((printedDir = join(scratchDir, "printed")), { mode: 0o700 });
  const dir = printedDir ?? scratchDir;
  const paths = { stdoutPath: join(dir, "stdout"), stderrPath: join(dir, "stderr"), statusPath: join(scratchDir, "status") };
  const launched = launcher.launch({ ...request, cwd: "/", env: {}, stdoutPath: paths.stdoutPath, stderrPath: paths.stderrPath, fd3Path: paths.statusPath });
  return launched && { launched, ...(printedDir ? { printedDir } : {}), ...paths };
}

/**
 * Waits for a launched job: kills it at its time limit, on `signal`, or once
 * what it printed passes the limit (polled: each stream file is also held to
 * the limit by RLIMIT_FSIZE), then reads its streams and status back.
 */
export async function watchLaunched(job: LaunchedJob, limits: { maxOutputBytes: number; timeoutMs: number; pollIntervalMs: number }, signal: AbortSignal, stop: JobStop): Promise<JobRun> {
  stop.onStop(() => job.launched.kill());
  const timer = setTimeout(() => stop.stop("timeout"), limits.timeoutMs);
  const onAbort = () => stop.stop("cancelled");
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  // With rlimits, RLIMIT_FSIZE holds each stream file to the limit and a byte: nothing to watch.
  const stopWatching = job.printedDir ? watchDiskUsage([job.printedDir], limits.maxOutputBytes, limits.pollIntervalMs, () => stop.stop("output-limit")) : () => {};
  try {
    const end = await job.launched.ended;
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    // Never more than the limit and a byte into memory (without rlimits, a job writes until the next poll).
    // Small local files, read at once: cheaper than the promise API's open, stat, read and close.
    const stdout = readUpTo(job.stdoutPath, limits.maxOutputBytes + 1);
    const stderr = readUpTo(job.stderrPath, limits.maxOutputBytes + 1);
    const fd3 = readUpTo(job.statusPath, STATUS_BYTES);
    const wasCut = stdout.length + stderr.length > limits.maxOutputBytes;
    const run: JobRun = { status: 0, stdout, stderr, fd3, wasCut, ...(stop.reason ? { killed: stop.reason } : {}) };
    if (end.kind === "exited") run.status = end.code;
    else if (end.kind === "signaled") run.status = 128 + end.signal;
    else {
      run.status = 127;
      run.notStarted = `cannot start bwrap, move it into the job's cgroup or set its rlimits: ${errnoName(end.errno)}`;
    }
    return run;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    stopWatching();
  }
}

/** What bwrap's status fd carries is two short JSON lines. */
const STATUS_BYTES = 1 << 20;

/** The first `max` bytes of a file; empty when it does not exist. */
function readUpTo(path: string, max: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return Buffer.alloc(0);
    const buffer = Buffer.allocUnsafe(Math.min(size, max));
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
