/** The client's side of the scheduler: allocating a builder for a job, and the status of the farm. */
import type { Dispatcher } from "undici";
import type { Platform } from "@reprise/core";
import { farmRequest, FarmRequestError, httpError } from "../http/client.js";
import { CircuitBreaker } from "./circuit-breaker.js";

export interface Allocation {
  jobId: string;
  builderId: string;
  builderUrl: string;
  jobToken: string;
  expiresAt: string | number;
  /** The toolchain the job names on that builder: absent or the requested one, or an equivalent the builder holds. */
  toolchainId?: string;
}

export class SchedulerClient {
  readonly breaker = new CircuitBreaker();
  lastError?: string;

  constructor(
    readonly url: string,
    private readonly token: string | undefined,
    readonly dispatcher: Dispatcher,
  ) {}

  private endpoint(path: string): string {
    return new URL(path, this.url.endsWith("/") ? this.url : `${this.url}/`).href;
  }

  /** A builder for the job; FarmRequestError when the scheduler cannot be reached or has none (status 503, code no-builder/all-busy). */
  async allocate(
    toolchainId: string,
    platforms: Platform[],
    maxWaitMs: number,
    extra: { equivalents?: string[]; alternatives?: { toolchainId: string; platforms: Platform[] }[]; preferPlatform?: { os: string; arch: string }; requires?: readonly string[] } = {},
  ): Promise<Allocation> {
    let res;
    try {
      res = await farmRequest({
        method: "POST",
        url: this.endpoint("v1/jobs/allocate"),
        token: this.token,
        json: {
          toolchainId,
          platforms,
          maxWaitMs,
          ...(extra.equivalents?.length ? { equivalents: extra.equivalents } : {}),
          ...(extra.alternatives?.length ? { alternatives: extra.alternatives } : {}),
          ...(extra.preferPlatform ? { preferPlatform: extra.preferPlatform } : {}),
          ...(extra.requires?.length ? { requires: extra.requires } : {}),
        },
        // The scheduler may queue the request for maxWaitMs: wait that long and a little more, never longer.
        timeoutMs: maxWaitMs + 1500,
        dispatcher: this.dispatcher,
      });
    } catch (err) {
      this.breaker.failure();
      this.lastError = (err as Error).message;
      throw err;
    }
    this.breaker.success();
    if (res.status !== 200) throw httpError("allocate", res.status, res.body);
    const a = res.body as Partial<Allocation>;
    if (typeof a?.jobId !== "string" || typeof a.builderUrl !== "string" || typeof a.jobToken !== "string" || typeof a.builderId !== "string") {
      throw new FarmRequestError("garbage", "allocate: the answer is not an allocation");
    }
    if (a.toolchainId !== undefined && a.toolchainId !== toolchainId && !extra.equivalents?.includes(a.toolchainId) && !extra.alternatives?.some((x) => x.toolchainId === a.toolchainId)) {
      throw new FarmRequestError("garbage", "allocate: the scheduler named a toolchain this client did not offer");
    }
    return a as Allocation;
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
