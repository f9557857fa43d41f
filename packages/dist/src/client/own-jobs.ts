/**
 * This client's jobs on the farm: how many run now and when the last one
 * ended. A miss that finds every builder busy keeps waiting while the farm is
 * busy with this client's own jobs (each bounded by the job timeout): their
 * slots come free for it in about a job's time, and a compile here meanwhile
 * would only take a core the build's other work is using.
 */
/**
 * A builder tells the scheduler a job ended as it answers the client; on a
 * loaded machine the client may have the result a moment before the slot is
 * free, and a wait begun then can end without it.
 */
const SLOT_REPORT_GRACE_MS = 2000;

export class OwnJobs {
  private running = 0;
  private lastEnded = Number.NEGATIVE_INFINITY;

  started(): void {
    this.running++;
  }

  ended(now = Date.now()): void {
    this.running = Math.max(0, this.running - 1);
    this.lastEnded = now;
  }

  /** Whether the farm has been working for this client since `since`: a job of its own runs now or ended meanwhile (or just before). */
  workingSince(since: number): boolean {
    return this.running > 0 || this.lastEnded >= since - SLOT_REPORT_GRACE_MS;
  }
}
