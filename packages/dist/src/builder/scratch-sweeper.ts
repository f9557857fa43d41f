/** Removing jobs' scratch directories off the answer's path. */
import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { removeSmallTree } from "@reprise/core/sandbox-kit";

/** How long a job's scratch directory waits before it is removed. */
const SWEEP_AFTER_MS = 2000;

/**
 * A job's scratch directory holds the mount points of its sandbox, and its
 * `rmdir`s block in the kernel (25 ms per job of the builder's main thread
 * in a profile over libuv at load 9, before the job's answer went out; still
 * ~9.5 ms per job two seconds later, at load 3-6): removed here, after the
 * answer, they no longer delay it. Blocking, not CPU.
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
