/**
 * The scheduler's state machine, free of HTTP: builders register and
 * heartbeat, clients allocate (waiting a bounded time in a bounded FIFO
 * queue when every matching builder is busy), builders report finished jobs.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "@reprise/core/logger";
import { platformKey } from "../platform.js";
import type { JobTokenSigner } from "../auth/job-token.js";
import type { AllocateRequest, AllocateResponse, FinishedRequest, HeartbeatRequest, RegisterRequest, RegisterResponse, StatusResponse } from "../protocol/scheduler-messages.js";
import { DIST_PROTOCOL_VERSION } from "../protocol/common.js";
import { chooseBuilder, type AllocationQuery } from "./allocator.js";
import { createCounters } from "./counters.js";
import { BuilderRegistry, runningJobs, type BuilderEntry } from "./registry.js";

export interface SchedulerOptions {
  version: string;
  heartbeatIntervalMs: number;
  /** A builder silent for this many heartbeat intervals is dropped. */
  missedHeartbeats: number;
  allocationGraceMs: number;
  /** See BuilderRegistry: an allocation its builder has not heard of this long after it was made is taken back (default 3 s). */
  unclaimedGraceMs?: number;
  queue: { defaultWaitMs: number; maxWaitMs: number; maxLength: number };
  signer: JobTokenSigner;
  logger: Logger;
  now?: () => number;
}

export type AllocationOutcome = { ok: true; response: AllocateResponse } | { ok: false; code: "no-builder" | "all-busy"; message: string };

interface Reservation {
  builder: BuilderEntry;
  jobId: string;
  reservedAt: number;
  /** The toolchain the job runs with on that builder (the client's own, or an equivalent the builder holds). */
  toolchainId: string;
}

interface Waiter {
  query: AllocationQuery;
  resolve(reservation: Reservation | undefined): void;
  timer: NodeJS.Timeout;
}

export class Scheduler {
  readonly counters = createCounters();
  private readonly registry: BuilderRegistry;
  private readonly waiters: Waiter[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? Date.now;
    this.registry = new BuilderRegistry({ allocationGraceMs: options.allocationGraceMs, unclaimedGraceMs: options.unclaimedGraceMs ?? 3_000 });
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.floor(options.heartbeatIntervalMs / 2)));
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
    }
  }

  builder(builderId: string): BuilderEntry | undefined {
    return this.registry.get(builderId);
  }

  /** `builderToken`: the bearer token the builder registered with (its HS256 job-token key is derived from it). */
  async register(message: RegisterRequest, subject?: string, builderToken?: string): Promise<RegisterResponse> {
    // The key first: once registered, the builder can be chosen, and its tokens must be signable.
    const grant = this.options.signer.keyForBuilder(message.builderId, builderToken);
    const { replaced } = this.registry.register(message, this.now(), subject);
    this.counters.registrations++;
    if (replaced) this.counters.reRegistrations++;
    this.options.logger.info(`builder ${message.builderId} ${replaced ? "registered again" : "registered"}: ${platformKey(message.platform)}, ${message.cores} cores, maxJobs ${message.maxJobs}, ${message.url}`);
    this.serveWaiters();
    return {
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      ...grant,
    };
  }

  heartbeat(builder: BuilderEntry, message: HeartbeatRequest): void {
    this.counters.unclaimedReleased += this.registry.heartbeat(builder, message, this.now());
    this.counters.heartbeats++;
    this.serveWaiters();
  }

  finished(jobId: string, message: FinishedRequest): boolean {
    if (!this.registry.finish(jobId)) {
      this.counters.unknownJob++;
      return false;
    }
    if (message.ok) this.counters.finishedOk++;
    else this.counters.finishedFailed++;
    this.serveWaiters();
    return true;
  }

  /** Gives back the slot of an allocation whose client went away before receiving it, or gave it back unused; false if it is not outstanding. */
  release(jobId: string): boolean {
    if (!this.registry.finish(jobId)) return false;
    this.serveWaiters();
    return true;
  }

  jobBuilderId(jobId: string): string | undefined {
    return this.registry.job(jobId)?.builderId;
  }

  /**
   * Picks a builder, waiting at most `maxWaitMs` when all are busy. `whenGone`
   * is asked for a signal only if the request has to wait (most do not): it
   * ends the wait when the client goes away.
   */
  async allocate(request: AllocateRequest, whenGone?: AbortSignal | (() => AbortSignal)): Promise<AllocationOutcome> {
    const query = queryOf(request);
    const choice = chooseBuilder(this.registry, query);
    if ("builder" in choice) return this.grant(this.reserve(choice.builder, choice.toolchainId));

    if (choice.none === "no-builder") return this.noBuilder(query);
    const waitMs = Math.min(request.maxWaitMs ?? this.options.queue.defaultWaitMs, this.options.queue.maxWaitMs);
    if (waitMs <= 0 || this.waiters.length >= this.options.queue.maxLength) {
      if (waitMs > 0) this.counters.queueFull++;
      this.counters.allBusy++;
      return { ok: false, code: "all-busy", message: `every builder of ${query.poolKeys.join(", ")} is busy${waitMs > 0 ? " and the queue is full" : ""}` };
    }
    const reservation = await this.wait(query, waitMs, typeof whenGone === "function" ? whenGone() : whenGone);
    if (reservation) {
      this.counters.allocationsAfterWait++;
      return this.grant(reservation);
    }
    this.counters.allBusy++;
    return { ok: false, code: "all-busy", message: `every builder of ${query.poolKeys.join(", ")} stayed busy for ${waitMs} ms` };
  }

  /**
   * Several allocations at once, none waiting (`POST /v1/jobs/allocate-batch`):
   * an entry no builder has room for now is answered `all-busy`, and its
   * client asks again alone, with waiting.
   */
  allocateBatch(requests: readonly AllocateRequest[]): AllocationOutcome[] {
    this.counters.allocateBatches++;
    return requests.map((request) => {
      const query = queryOf(request);
      const choice = chooseBuilder(this.registry, query);
      if ("builder" in choice) return this.grant(this.reserve(choice.builder, choice.toolchainId));
      if (choice.none === "no-builder") return this.noBuilder(query);
      this.counters.batchDeferred++;
      return { ok: false, code: "all-busy", message: `every builder of ${query.poolKeys.join(", ")} is busy now` };
    });
  }

  private noBuilder(query: AllocationQuery): AllocationOutcome {
    this.counters.noBuilder++;
    return { ok: false, code: "no-builder", message: `no builder in the pools ${query.poolKeys.join(", ")} that can run toolchain ${query.toolchainId}${query.requires ? ` and ${query.requires.join(", ")}` : ""}` };
  }

  status(): StatusResponse {
    const now = this.now();
    const pools = [...this.registry.pools.values()]
      .filter((pool) => pool.size > 0)
      .map((pool) => {
        const builders = [...pool].sort((a, b) => a.id.localeCompare(b.id));
        return {
          platform: builders[0]!.platform,
          builders: builders.map((b) => ({
            builderId: b.id,
            url: b.url,
            cores: b.cores,
            maxJobs: b.maxJobs,
            runningJobs: runningJobs(b),
            acceptingJobs: b.acceptingJobs,
            loadAvg1: b.loadAvg1,
            memoryBytes: b.memoryBytes,
            freeToolchainBytes: b.freeToolchainBytes,
            sandboxes: [...b.sandboxes],
            toolchains: [...b.toolchains].sort(),
            held: b.held,
            rustTargets: b.rustTargets,
            ...(b.installable.length ? { installable: [...b.installable] } : {}),
            ...(b.capabilities.size ? { capabilities: [...b.capabilities].sort() } : {}),
            lastHeartbeatMsAgo: now - b.lastSeen,
            version: b.version,
          })),
        };
      })
      .sort((a, b) => platformKey(a.platform).localeCompare(platformKey(b.platform)));
    return { version: this.options.version, protocol: DIST_PROTOCOL_VERSION, pools, queuedRequests: this.waiters.length, counters: { ...this.counters } };
  }

  /** Takes the slot synchronously, before any await, so concurrent allocations never share it. */
  private reserve(builder: BuilderEntry, toolchainId: string): Reservation {
    const jobId = randomUUID();
    const reservedAt = this.now();
    this.registry.reserve(builder, jobId, reservedAt, reservedAt + this.options.signer.ttlMs);
    return { builder, jobId, reservedAt, toolchainId };
  }

  private grant({ builder, jobId, reservedAt, toolchainId }: Reservation): AllocationOutcome {
    let signed;
    try {
      signed = this.options.signer.sign({ jobId, builderId: builder.id, toolchainId }, reservedAt);
    } catch (error) {
      this.registry.finish(jobId); // give the slot back: no client will ever use it
      throw error;
    }
    const { token, expiresAt } = signed;
    this.counters.allocations++;
    return { ok: true, response: { jobId, builderId: builder.id, builderUrl: builder.url, jobToken: token, expiresAt, toolchainId } };
  }

  private wait(query: AllocationQuery, waitMs: number, signal?: AbortSignal): Promise<Reservation | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        query,
        resolve: (reservation) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(reservation);
        },
        timer: setTimeout(() => this.dropWaiter(waiter), waitMs),
      };
      const onAbort = () => this.dropWaiter(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private dropWaiter(waiter: Waiter): void {
    const index = this.waiters.indexOf(waiter);
    if (index !== -1) this.waiters.splice(index, 1);
    clearTimeout(waiter.timer);
    waiter.resolve(undefined);
  }

  /** Hands freed slots to waiting requests, oldest first; a waiter nothing fits stays queued. */
  private serveWaiters(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i]!;
      const choice = chooseBuilder(this.registry, waiter.query);
      if (!("builder" in choice)) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      clearTimeout(waiter.timer);
      waiter.resolve(this.reserve(choice.builder, choice.toolchainId));
    }
  }

  private sweep(): void {
    const silenceMs = this.options.heartbeatIntervalMs * this.options.missedHeartbeats;
    const dropped = this.registry.sweep(this.now(), silenceMs);
    for (const id of dropped) {
      this.options.signer.forgetBuilder(id);
      this.counters.droppedBuilders++;
      this.options.logger.warn(`builder ${id} dropped: no heartbeat for ${silenceMs} ms`);
    }
  }
}

function queryOf(request: AllocateRequest): AllocationQuery {
  return {
    toolchainId: request.toolchainId,
    ...(request.equivalents?.length ? { equivalents: request.equivalents } : {}),
    ...(request.alternatives?.length ? { alternatives: request.alternatives.map((a) => ({ toolchainId: a.toolchainId, poolKeys: [...new Set(a.platforms.map(platformKey))] })) } : {}),
    poolKeys: request.platforms.length === 1 ? [platformKey(request.platforms[0]!)] : [...new Set(request.platforms.map(platformKey))],
    preferPoolKey: request.preferPlatform ? platformKey(request.preferPlatform) : undefined,
    ...(request.requires?.length ? { requires: request.requires } : {}),
  };
}
