/** Removing jobs' scratch directories off the answer's path and off the event loop. */
import { ScratchRemover } from "./scratch-remover.js";

/** How long a job's scratch directory waits before it is removed. */
const SWEEP_AFTER_MS = 2000;

/**
 * A job's scratch directory holds the sources of its sandbox's mounts, and
 * its `rmdir`s block in the kernel (25 ms per job of the builder's main
 * thread in a profile over libuv at load 9, before the job's answer went
 * out; still ~9.5 ms per job two seconds later, at load 3-6): removed here,
 * after the answer, by a worker thread, they delay neither the answer nor
 * the event loop. Blocking, not CPU.
 */
export class ScratchSweeper {
  private readonly pending: { dir: string; at: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  readonly remover = new ScratchRemover();

  constructor(private readonly delayMs = SWEEP_AFTER_MS) {}

  get waiting(): number {
    return this.pending.length;
  }

  /** Removes `dir` (and everything below it) in a while. */
  discard(dir: string): void {
    this.pending.push({ dir, at: performance.now() });
    this.schedule();
  }

  /** Removes every directory still waiting, now, and resolves once all are gone (the builder stopping). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remover.remove(this.pending.splice(0).map((p) => p.dir));
    await this.remover.close();
  }

  private schedule(): void {
    if (this.timer || !this.pending.length) return;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, this.pending[0]!.at + this.delayMs - performance.now()));
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    const due = performance.now() - this.delayMs;
    let n = 0;
    while (n < this.pending.length && this.pending[n]!.at <= due) n++;
    this.remover.remove(this.pending.splice(0, n).map((p) => p.dir));
    this.schedule();
  }
}
