/** Removing jobs' scratch directories off the answer's path. */
import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { removeSmallTree } from "@reprise/core/sandbox-kit";

/** How long a job's scratch directory waits before it is removed. */
const SWEEP_AFTER_MS = 2000;

/**
 * A job's scratch directory holds the mount points of its sandbox. Removed
 * right after the job, while the kernel still tears down the sandbox's mount
 * namespace, each `rmdir` waited for that (25 ms per job of the builder's
 * event loop, blocked, in a profile over libuv at load 9, before the job's
 * answer went out). Removed a couple of seconds later, it costs the same CPU
 * and no wait.
 */
export class ScratchSweeper {
  private readonly pending: { dir: string; at: number }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly delayMs = SWEEP_AFTER_MS) {}

  get waiting(): number {
    return this.pending.length;
  }

  /** Removes `dir` (and everything below it) in a while. */
  discard(dir: string): void {
    this.pending.push({ dir, at: performance.now() });
    this.schedule();
  }

  /** Removes every directory still waiting, now (the builder stopping). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (let p = this.pending.shift(); p; p = this.pending.shift()) if (!removeSmallTree(p.dir)) rmSync(p.dir, { recursive: true, force: true });
  }

  private schedule(): void {
    if (this.timer || !this.pending.length) return;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, this.pending[0]!.at + this.delayMs - performance.now()));
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    const due = performance.now() - this.delayMs;
    while (this.pending.length && this.pending[0]!.at <= due) {
      const { dir } = this.pending.shift()!;
      // A scratch that holds many files is removed asynchronously (the event loop serves other jobs meanwhile).
      if (!removeSmallTree(dir)) void rm(dir, { recursive: true, force: true }).catch(() => {});
    }
    this.schedule();
  }
}
