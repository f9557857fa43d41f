/**
 * The client's side of the scheduler: allocating a builder for a job, and the
 * status of the farm. Allocations asked for while requests are on their way
 * (at most two at once) go together in the next one (`allocate-batch`): a
 * build's concurrent misses cost the scheduler a request per round trip, not
 * one each, and a lone miss waits for nothing.
 */
import type { Dispatcher } from "undici";
import type { Platform } from "@reprise/core";
import { farmRequest, FarmRequestError, httpError } from "../http/client.js";
import { MAX_ALLOCATE_BATCH } from "../protocol/scheduler-messages.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { OwnJobs } from "./own-jobs.js";

export interface Allocation {
  jobId: string;
  builderId: string;
  builderUrl: string;
  jobToken: string;
  expiresAt: string | number;
  /** The toolchain the job names on that builder: absent or the requested one, or an equivalent the builder holds. */
  toolchainId?: string;
}

export interface AllocateExtra {
  equivalents?: string[];
  alternatives?: { toolchainId: string; platforms: Platform[] }[];
  preferPlatform?: { os: string; arch: string };
  requires?: readonly string[];
}

/** One `allocate` message (docs/dist-protocol.md). */
interface AllocateBody {
  toolchainId: string;
  platforms: Platform[];
  maxWaitMs: number;
  equivalents?: string[];
  alternatives?: { toolchainId: string; platforms: Platform[] }[];
  preferPlatform?: { os: string; arch: string };
  requires?: readonly string[];
}

/** A batch entry's outcome: an allocation, or "busy" (ask again alone, with waiting). */
type BatchOutcome = Allocation | "busy";

interface Pending {
  body: AllocateBody;
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

/** What the scheduler may add to its answer before it is given up on (it never queues a batch). */
const ANSWER_MARGIN_MS = 1500;
/** Batches on their way at once: while one travels the scheduler works on the other, and a slow answer holds up only its own. */
const BATCHES_AT_ONCE = 2;

export class SchedulerClient {
  readonly breaker = new CircuitBreaker();
  /** This client's jobs running on the farm (FarmCompiler counts them). */
  readonly ownJobs = new OwnJobs();
  lastError?: string;
  /** Allocations waiting for the request on its way to come back. */
  private readonly pending: Pending[] = [];
  private batchesOnTheirWay = 0;
  /** An older scheduler answered `allocate-batch` with 404: ask one at a time. */
  private batchesRefused = false;

  constructor(
    readonly url: string,
    private readonly token: string | undefined,
    readonly dispatcher: Dispatcher,
  ) {}

  private endpoint(path: string): string {
    return new URL(path, this.url.endsWith("/") ? this.url : `${this.url}/`).href;
  }

  /** A builder for the job; FarmRequestError when the scheduler cannot be reached or has none (status 503, code no-builder/all-busy). */
  async allocate(toolchainId: string, platforms: Platform[], maxWaitMs: number, extra: AllocateExtra = {}): Promise<Allocation> {
    const body: AllocateBody = {
      toolchainId,
      platforms,
      maxWaitMs,
      ...(extra.equivalents?.length ? { equivalents: extra.equivalents } : {}),
      ...(extra.alternatives?.length ? { alternatives: extra.alternatives } : {}),
      ...(extra.preferPlatform ? { preferPlatform: extra.preferPlatform } : {}),
      ...(extra.requires?.length ? { requires: extra.requires } : {}),
    };
    const outcome = this.batchesRefused ? "busy" : await this.inNextBatch(body);
    return checkAllocation(outcome === "busy" ? await this.allocateAlone(body) : outcome, toolchainId, extra);
  }

  private inNextBatch(body: AllocateBody): Promise<BatchOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ body, resolve, reject });
      this.sendBatch();
    });
  }

  /** Sends what is pending unless enough batches are on their way (the return of one sends the next). */
  private sendBatch(): void {
    if (this.batchesOnTheirWay >= BATCHES_AT_ONCE || this.pending.length === 0) return;
    const batch = this.pending.splice(0, MAX_ALLOCATE_BATCH);
    this.batchesOnTheirWay++;
    this.exchangeBatch(batch).finally(() => {
      this.batchesOnTheirWay--;
      this.sendBatch();
    });
  }

  private async exchangeBatch(batch: Pending[]): Promise<void> {
    let res;
    try {
      res = await this.post("v1/jobs/allocate-batch", { requests: batch.map((p) => ({ ...p.body, maxWaitMs: 0 })) }, Math.min(...batch.map((p) => p.body.maxWaitMs)) + ANSWER_MARGIN_MS);
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    if (res.status === 404 && (res.body as { error?: { code?: unknown } })?.error?.code === "not-found") {
      // A scheduler from before batches: every entry goes alone, now and from now on.
      this.batchesRefused = true;
      for (const p of batch) p.resolve("busy");
      return;
    }
    const results = (res.body as { results?: unknown })?.results;
    if (res.status !== 200 || !Array.isArray(results) || results.length !== batch.length) {
      const err = res.status !== 200 ? httpError("allocate", res.status, res.body) : new FarmRequestError("garbage", "allocate-batch: the answer is not one result per request");
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => {
      const result = results[i] as { error?: { code?: unknown } } | undefined;
      if (result?.error === undefined) return p.resolve(result as Allocation);
      if (result.error.code === "all-busy" && p.body.maxWaitMs > 0) return p.resolve("busy");
      p.reject(httpError("allocate", 503, result));
    });
  }

  /** One allocation in its own request; the scheduler may queue it for `maxWaitMs`. */
  private async allocateAlone(body: AllocateBody): Promise<Allocation> {
    // The scheduler may queue the request for maxWaitMs: wait that long and a little more, never longer.
    const res = await this.post("v1/jobs/allocate", body, body.maxWaitMs + ANSWER_MARGIN_MS);
    if (res.status !== 200) throw httpError("allocate", res.status, res.body);
    return res.body as Allocation;
  }

  /** A request to the scheduler, counted by the circuit breaker (an answer of any status is a success). */
  private async post(path: string, json: unknown, timeoutMs: number) {
    try {
      const res = await farmRequest({ method: "POST", url: this.endpoint(path), token: this.token, json, timeoutMs, dispatcher: this.dispatcher });
      this.breaker.success();
      return res;
    } catch (err) {
      this.breaker.failure();
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  /**
   * Gives an allocation back unused (its builder could not be reached), so
   * its slot is free at once rather than when the scheduler's grace period
   * ends. Best effort: a failure only leaves the slot to that period.
   */
  release(jobId: string, timeoutMs = 2000): Promise<void> {
    return farmRequest({ method: "POST", url: this.endpoint(`v1/jobs/${encodeURIComponent(jobId)}/release`), token: this.token, json: {}, timeoutMs, dispatcher: this.dispatcher }).then(
      () => undefined,
      () => undefined,
    );
  }

  async status(timeoutMs = 5000): Promise<unknown> {
    const res = await farmRequest({ method: "GET", url: this.endpoint("v1/status"), token: this.token, timeoutMs, dispatcher: this.dispatcher });
    if (res.status !== 200) throw httpError("status", res.status, res.body);
    return res.body;
  }
}

/** The answer must be an allocation for a toolchain this client offered. */
function checkAllocation(a: Partial<Allocation> | undefined, toolchainId: string, extra: AllocateExtra): Allocation {
  if (typeof a?.jobId !== "string" || typeof a.builderUrl !== "string" || typeof a.jobToken !== "string" || typeof a.builderId !== "string") {
    throw new FarmRequestError("garbage", "allocate: the answer is not an allocation");
  }
  if (a.toolchainId !== undefined && a.toolchainId !== toolchainId && !extra.equivalents?.includes(a.toolchainId) && !extra.alternatives?.some((x) => x.toolchainId === a.toolchainId)) {
    throw new FarmRequestError("garbage", "allocate: the scheduler named a toolchain this client did not offer");
  }
  return a as Allocation;
}
