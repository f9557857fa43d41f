import { JobCgroup, type JobCgroupLimits, type JobCgroupPlan } from "./cgroup.js";

/** Idle cgroups a pool keeps at most: a job's cgroup stays counted busy for a second or two after the job (isDrained). */
const MAX_IDLE = 16;

/**
 * Job cgroups reused between jobs instead of made and removed for each: the
 * kernel's making and removing of a memory cgroup costs more than writing its
 * limits again. A cgroup goes back to the pool only once no process of its
 * job is left in it (killed if need be), and serves another job only once
 * none is counted in it either; that job gets every limit written afresh and
 * its own baseline of the event counters (JobCgroup.reuse). One that cannot
 * be emptied or readied is removed, never reused.
 */
export class JobCgroupPool {
  /** Oldest first: the likeliest to be drained. */
  private readonly idle: JobCgroup[] = [];
  /** How many jobs got a reused cgroup, a new one, and how many cgroups were removed instead of kept. */
  readonly counts = { reused: 0, made: 0, removed: 0 };
  private exitHook: (() => void) | undefined;

  constructor(
    private readonly plan: JobCgroupPlan,
    private readonly maxIdle = MAX_IDLE,
  ) {}

  acquire(limits: JobCgroupLimits): JobCgroup {
    for (let i = 0; i < this.idle.length; i++) {
      const c = this.idle[i]!;
      if (!c.isDrained()) continue;
      this.idle.splice(i, 1);
      try {
        c.reuse(limits);
        this.counts.reused++;
        return c;
      } catch {
        this.drop(c);
        i--;
      }
    }
    this.counts.made++;
    return JobCgroup.create(this.plan, limits);
  }

  /** After the job: kept once no process is left in it (killing what is), else removed (left to the kernel if still busy). */
  async release(c: JobCgroup): Promise<void> {
    if (this.idle.length < this.maxIdle && (await c.emptied())) {
      this.idle.push(c);
      this.removeIdleAtExit();
      return;
    }
    this.counts.removed++;
    await c.removeWhenGone().catch(() => {});
  }

  /** How many drained cgroups wait for a job. */
  get idleCount(): number {
    return this.idle.length;
  }

  /** Removes the idle cgroups (at exit, and for tests). */
  clear(): void {
    for (let c = this.idle.pop(); c; c = this.idle.pop()) this.drop(c);
  }

  private drop(c: JobCgroup): void {
    this.counts.removed++;
    c.removeNow();
  }

  /** Idle cgroups are empty, so removing them at exit is one rmdir each; a killed process's are swept by the next planJobCgroups. */
  private removeIdleAtExit(): void {
    if (this.exitHook) return;
    this.exitHook = () => this.clear();
    process.once("exit", this.exitHook);
  }
}
