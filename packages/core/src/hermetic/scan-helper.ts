import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** A scan sent to the helper. */
export interface ScanRequest {
  id: number;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

/** The helper's answer: the scan's exit status and the start of its stderr. */
export interface ScanReply {
  id: number;
  exitCode: number;
  stderr: string;
}

// The built helper, from src/hermetic (tests) as from dist/hermetic.
const HELPER = fileURLToPath(new URL("../../dist/hermetic/scan-helper-main.js", import.meta.url));
/** A helper that dies this many times is not started again by this process: scans spawn directly. */
const MAX_DEATHS = 3;

/**
 * Runs closure scans from a small helper process instead of the daemon.
 * Forking a process costs CPU in proportion to its memory (copying its page
 * tables): a spawn from a Node process of 48 MB RSS cost 0.8 ms of CPU here,
 * from one of 248 MB 6.7 ms, and the daemon is the large one. Through the
 * helper the daemon pays one IPC message each way per scan, and the helper,
 * which holds nothing, pays the fork. Undefined from `run` whenever the
 * helper is not there (it could not start, it died mid-scan): the caller
 * then spawns the scan itself, so a scan never fails because of the helper.
 */
export class ScanHelper {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, (reply: ScanReply | undefined) => void>();
  private nextId = 0;
  private deaths = 0;
  /** Told when the helper could not start or ended with scans under way (they are then spawned by the caller). */
  onLost: (detail: string) => void = () => {};

  /** The scan's outcome, or undefined when the helper cannot run it. */
  run(argv: readonly string[], cwd: string, env: Readonly<Record<string, string>>): Promise<ScanReply | undefined> {
    const child = this.started();
    if (!child) return Promise.resolve(undefined);
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      if (this.pending.size === 1) child.channel?.ref();
      const request: ScanRequest = { id, argv: [...argv], cwd, env: { ...env } };
      try {
        child.send(request, (err) => {
          if (err) this.settle(id, undefined);
        });
      } catch {
        this.settle(id, undefined);
      }
    });
  }

  /** Ends the helper (it also ends by itself with this process). */
  stop(): void {
    this.child?.kill();
    this.child = undefined;
  }

  private started(): ChildProcess | undefined {
    if (this.child) return this.child;
    if (this.deaths >= MAX_DEATHS) return undefined;
    let child: ChildProcess;
    try {
      // No execArgv and no NODE_OPTIONS: the helper must not inherit a profiler or a preload meant for the daemon.
      child = fork(HELPER, [], { execArgv: [], env: {}, stdio: ["ignore", "ignore", "ignore", "ipc"], serialization: "json" });
    } catch (err) {
      this.deaths++;
      this.onLost(`could not start: ${(err as Error).message}`);
      return undefined;
    }
    child.on("message", (reply: ScanReply) => this.settle(reply.id, reply));
    child.on("error", (err) => this.lost(child, err.message));
    child.on("exit", (code, signal) => this.lost(child, `exited (${signal ?? code})`));
    child.unref();
    child.channel?.unref();
    this.child = child;
    return child;
  }

  private settle(id: number, reply: ScanReply | undefined): void {
    const resolve = this.pending.get(id);
    if (!resolve) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.child?.channel?.unref();
    resolve(reply);
  }

  private lost(child: ChildProcess, why: string): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.deaths++;
    this.onLost(`${why}${this.deaths >= MAX_DEATHS ? "; not started again" : ""}`);
    for (const id of [...this.pending.keys()]) this.settle(id, undefined);
  }
}
