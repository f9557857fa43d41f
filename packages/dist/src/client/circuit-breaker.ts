/**
 * Stops asking an unreachable scheduler for a while: after `threshold`
 * failures in a row it opens for `openMs`; then one call is let through, and
 * its success closes it again.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt?: number;
  private probing = false;

  constructor(
    private readonly threshold = 2,
    private readonly openMs = 30_000,
  ) {}

  /** Whether a call may go now. */
  allow(now = Date.now()): boolean {
    if (this.openedAt === undefined) return true;
    if (now - this.openedAt < this.openMs || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.probing = false;
  }

  failure(now = Date.now()): void {
    this.failures++;
    this.probing = false;
    if (this.failures >= this.threshold) this.openedAt = now;
  }

  get state(): "closed" | "open" {
    return this.openedAt === undefined ? "closed" : "open";
  }
}
