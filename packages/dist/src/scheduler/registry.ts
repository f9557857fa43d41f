/**
 * The builders the scheduler knows, in pools by platform. Slot accounting:
 * a builder's running jobs are the jobs allocated to it and not yet finished,
 * or what its last heartbeat reported if that is more (jobs the scheduler
 * does not know of, e.g. after a scheduler restart). A heartbeat that lists
 * the jobs its builder has heard of (`jobIds`) frees every allocation older
 * than `unclaimedGraceMs` missing from it: its client never came (a job the
 * builder has heard of is freed by `finished`, or when its token expires).
 * A heartbeat without the list that reports fewer running jobs trims
 * allocations older than `allocationGraceMs`: their client never came, or
 * their `finished` was lost.
 */
import type { Platform } from "@reprise/core";
import { normalisePlatform, platformKey } from "../platform.js";
import type { HeartbeatRequest, HeldToolchain, RegisterRequest } from "../protocol/scheduler-messages.js";

export interface BuilderEntry {
  readonly id: string;
  readonly url: string;
  readonly platform: Platform;
  readonly poolKey: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly sandboxes: readonly string[];
  readonly version: string;
  readonly maxJobs: number;
  /** The subject of the builder's JWT, when it registered with one: only that identity may act for it. */
  readonly subject?: string;
  toolchains: Set<string>;
  /** Toolchains of the builder's own, as it described them at registration. */
  readonly held: HeldToolchain[];
  readonly rustTargets: { target: string; held: boolean }[];
  /** Prefixes of descriptor ids it provides on demand (rustup: `rustc:`). */
  installable: readonly string[];
  capabilities: ReadonlySet<string>;
  freeToolchainBytes: number;
  acceptingJobs: boolean;
  loadAvg1: number;
  reportedRunning: number;
  /** Allocated and not finished: job id → allocation time (insertion order = oldest first). */
  readonly outstanding: Map<string, number>;
  lastSeen: number;
  lastAllocatedAt: number;
}

export interface JobRecord {
  builderId: string;
  allocatedAt: number;
  expiresAt: number;
}

export function runningJobs(builder: BuilderEntry): number {
  return Math.max(builder.reportedRunning, builder.outstanding.size);
}

export class BuilderRegistry {
  private readonly builders = new Map<string, BuilderEntry>();
  /** Pool key ("linux/aarch64") → its builders. */
  readonly pools = new Map<string, Set<BuilderEntry>>();
  private readonly jobs = new Map<string, JobRecord>();

  constructor(private readonly options: { allocationGraceMs: number; unclaimedGraceMs: number }) {}

  get size(): number {
    return this.builders.size;
  }

  get(builderId: string): BuilderEntry | undefined {
    return this.builders.get(builderId);
  }

  all(): IterableIterator<BuilderEntry> {
    return this.builders.values();
  }

  /** Adds a builder, or replaces one that registers again (after a restart its old jobs are gone). */
  register(message: RegisterRequest, now: number, subject?: string): { replaced: boolean } {
    const replaced = this.remove(message.builderId);
    const platform = normalisePlatform(message.platform);
    const entry: BuilderEntry = {
      id: message.builderId,
      url: message.url.replace(/\/+$/, ""),
      platform,
      poolKey: platformKey(platform),
      cores: message.cores,
      memoryBytes: message.memoryBytes,
      sandboxes: message.sandboxes,
      version: message.version,
      maxJobs: message.maxJobs,
      subject,
      toolchains: new Set(message.toolchains),
      held: message.held ?? [],
      rustTargets: message.rustTargets ?? [],
      installable: message.installable ?? [],
      capabilities: new Set(message.capabilities ?? []),
      freeToolchainBytes: message.freeToolchainBytes,
      acceptingJobs: true,
      loadAvg1: 0,
      reportedRunning: 0,
      outstanding: new Map(),
      lastSeen: now,
      lastAllocatedAt: 0,
    };
    this.builders.set(entry.id, entry);
    let pool = this.pools.get(entry.poolKey);
    if (!pool) this.pools.set(entry.poolKey, (pool = new Set()));
    pool.add(entry);
    return { replaced };
  }

  /** Updates the builder's state; returns how many unclaimed allocations it took back. */
  heartbeat(builder: BuilderEntry, message: HeartbeatRequest, now: number): number {
    builder.lastSeen = now;
    builder.reportedRunning = message.runningJobs;
    builder.acceptingJobs = message.acceptingJobs;
    builder.loadAvg1 = message.loadAvg1;
    builder.freeToolchainBytes = message.freeToolchainBytes;
    builder.toolchains = new Set(message.toolchains);
    if (message.installable) builder.installable = message.installable;
    if (message.capabilities) builder.capabilities = new Set(message.capabilities);
    if (message.jobIds) {
      const heard = new Set(message.jobIds);
      let released = 0;
      for (const [jobId, allocatedAt] of builder.outstanding) {
        // Oldest first: the rest are younger still.
        if (now - allocatedAt < this.options.unclaimedGraceMs) break;
        if (heard.has(jobId)) continue;
        builder.outstanding.delete(jobId);
        this.jobs.delete(jobId);
        released++;
      }
      return released;
    }
    const excess = builder.outstanding.size - message.runningJobs;
    if (excess <= 0) return 0;
    let trimmed = 0;
    for (const [jobId, allocatedAt] of builder.outstanding) {
      if (trimmed >= excess || now - allocatedAt < this.options.allocationGraceMs) break;
      builder.outstanding.delete(jobId);
      this.jobs.delete(jobId);
      trimmed++;
    }
    return 0;
  }

  /** Removes a builder and forgets its jobs. */
  remove(builderId: string): boolean {
    const builder = this.builders.get(builderId);
    if (!builder) return false;
    this.builders.delete(builderId);
    const pool = this.pools.get(builder.poolKey);
    pool?.delete(builder);
    if (pool && pool.size === 0) this.pools.delete(builder.poolKey);
    for (const jobId of builder.outstanding.keys()) this.jobs.delete(jobId);
    return true;
  }

  /** Takes a slot on `builder` for a new job. */
  reserve(builder: BuilderEntry, jobId: string, now: number, expiresAt: number): void {
    builder.outstanding.set(jobId, now);
    builder.lastAllocatedAt = now;
    this.jobs.set(jobId, { builderId: builder.id, allocatedAt: now, expiresAt });
  }

  job(jobId: string): JobRecord | undefined {
    return this.jobs.get(jobId);
  }

  /** Frees a job's slot; false if the job is unknown (finished already, trimmed or expired). */
  finish(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job) return false;
    this.jobs.delete(jobId);
    this.builders.get(job.builderId)?.outstanding.delete(jobId);
    return true;
  }

  /** Drops builders silent for longer than `silenceMs` and jobs whose token expired. Returns the dropped builder ids. */
  sweep(now: number, silenceMs: number): string[] {
    const dropped: string[] = [];
    for (const builder of this.builders.values()) {
      if (now - builder.lastSeen > silenceMs) dropped.push(builder.id);
    }
    for (const id of dropped) this.remove(id);
    for (const [jobId, job] of this.jobs) {
      if (job.expiresAt <= now) this.finish(jobId);
    }
    return dropped;
  }
}
