/** The builder's side of the scheduler: registration, heartbeats, job completion. */
import { loadavg } from "node:os";
import type { Dispatcher } from "undici";
import { JOB_TOKEN_ALGS, type JobTokenGrant } from "../auth/job-token.js";
import type { Platform } from "@reprise/core";
import { farmRequest, httpError, FarmRequestError } from "../http/client.js";
import type { HeldToolchain } from "../protocol/scheduler-messages.js";
import type { FinishedReports } from "./finished-reports.js";

export interface Registration {
  builderId: string;
  url: string;
  platform: Platform;
  cores: number;
  memoryBytes: number;
  sandboxes: string[];
  toolchains: string[];
  /** The builder's own toolchains (config `toolchains`). */
  held?: HeldToolchain[];
  /** Rust targets it holds or can install. */
  rustTargets?: { target: string; held: boolean }[];
  freeToolchainBytes: number;
  version: string;
  maxJobs: number;
  installable?: string[];
  capabilities?: string[];
}

export interface RegisterAnswer extends JobTokenGrant {
  heartbeatIntervalMs: number;
}

export interface HeartbeatState {
  runningJobs: number;
  toolchains: string[];
  freeToolchainBytes: number;
  acceptingJobs: boolean;
  installable?: string[];
  capabilities?: string[];
  jobIds?: string[];
}

/** Why a builder could not register, in one line for the operator. */
export class RegistrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegistrationError";
  }
}

export class SchedulerLink {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  onRegistered?: (answer: RegisterAnswer) => Promise<void>;

  constructor(
    private readonly schedulerUrl: string,
    /** The builder token; with HS256 job tokens this builder's key is derived from it. */
    readonly token: string,
    private readonly dispatcher: Dispatcher,
    private readonly log: (level: "info" | "warn", msg: string) => void,
    /** Sends the per-job `finished` reports (node:http); without it they go through undici as the other requests do. */
    private readonly reports?: FinishedReports,
  ) {}

  private url(path: string): string {
    return new URL(path, this.schedulerUrl.endsWith("/") ? this.schedulerUrl : `${this.schedulerUrl}/`).href;
  }

  async register(reg: Registration): Promise<RegisterAnswer> {
    let res;
    try {
      res = await farmRequest({ method: "POST", url: this.url("v1/builders/register"), token: this.token, json: reg, timeoutMs: 10_000, dispatcher: this.dispatcher });
    } catch (err) {
      throw new RegistrationError(`scheduler unreachable at ${this.schedulerUrl}: ${(err as Error).message}`);
    }
    if (res.status === 401 || res.status === 403) throw new RegistrationError(`bad token: the scheduler at ${this.schedulerUrl} refused this builder's token (${res.status})`);
    if (res.status !== 200) throw new RegistrationError(`the scheduler at ${this.schedulerUrl} refused the registration: ${httpError("register", res.status, res.body).message}`);
    const a = res.body as Partial<RegisterAnswer>;
    if (typeof a?.heartbeatIntervalMs !== "number" || !JOB_TOKEN_ALGS.includes(a.jobTokenAlg as never) || (a.jobTokenAlg === "HS256" ? typeof a.jobTokenSalt !== "string" : typeof a.schedulerPublicKey !== "object")) {
      throw new RegistrationError(`the scheduler at ${this.schedulerUrl} answered the registration with something else than the protocol says`);
    }
    return a as RegisterAnswer;
  }

  /** Heartbeats every interval; registers again when the scheduler forgot this builder or restarted. */
  startHeartbeats(intervalMs: number, state: () => HeartbeatState, registration: () => Registration): void {
    const beat = async () => {
      if (this.stopped) return;
      let next = intervalMs;
      try {
        const s = state();
        const res = await farmRequest({
          method: "POST",
          url: this.url(`v1/builders/${encodeURIComponent(registration().builderId)}/heartbeat`),
          token: this.token,
          json: { ...s, loadAvg1: loadavg()[0] },
          timeoutMs: Math.max(2000, intervalMs),
          dispatcher: this.dispatcher,
        });
        if (res.status === 404) {
          this.log("info", "the scheduler does not know this builder (restarted?); registering again");
          const answer = await this.register(registration());
          await this.onRegistered?.(answer);
          next = answer.heartbeatIntervalMs;
        } else if (res.status !== 200) {
          this.log("warn", `heartbeat refused: ${httpError("heartbeat", res.status, res.body).message}`);
        }
      } catch (err) {
        this.log("warn", `heartbeat failed (will retry): ${(err as Error).message}`);
        next = Math.min(intervalMs, 2000);
      }
      if (!this.stopped) this.timer = setTimeout(() => void beat(), next);
    };
    this.timer = setTimeout(() => void beat(), intervalMs);
  }

  /** Tells the scheduler a job ended (frees its slot at once); failures only logged. */
  finished(jobId: string, ok: boolean, durationMs: number): void {
    if (this.reports) return this.reports.send(jobId, ok, durationMs);
    farmRequest({ method: "POST", url: this.url(`v1/jobs/${encodeURIComponent(jobId)}/finished`), token: this.token, json: { ok, durationMs: Math.round(durationMs) }, timeoutMs: 5000, dispatcher: this.dispatcher })
      .then((r) => {
        if (r.status !== 200) this.log("warn", `job ${jobId} finished: ${httpError("finished", r.status, r.body).message}`);
      })
      .catch((err: unknown) => this.log("warn", `job ${jobId} finished: ${(err as FarmRequestError).message}`));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.reports?.close();
  }
}
