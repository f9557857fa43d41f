/**
 * The real Scheduler in-process (no HTTP), for the allocator's unit tests:
 * small defaults for its options and for builders' registrations, each test
 * file choosing what differs.
 */
import { afterEach } from "vitest";
import { Logger } from "@reprise/core/logger";
import { JobTokenSigner, type JobTokenAlg } from "../../src/auth/job-token.js";
import { Scheduler, type SchedulerOptions } from "../../src/scheduler/scheduler.js";
import type { RegisterRequest } from "../../src/protocol/scheduler-messages.js";

export interface InProcessSchedulerDefaults {
  /** The job tokens' algorithm. */
  alg: JobTokenAlg;
  /** The scheduler's clock (default: the real one). */
  now?: () => number;
}

/**
 * Returns `make(options?)`, which starts a scheduler (1 s heartbeats, 3 may be
 * missed, 5 s allocation grace, a queue of 2 waiting at most 1 s, silent) with
 * `options` over those defaults. The one made last is closed after each test.
 */
export function inProcessSchedulers(defaults: InProcessSchedulerDefaults): (options?: Partial<SchedulerOptions>) => Promise<Scheduler> {
  let current: Scheduler | undefined;
  afterEach(() => current?.close());
  return async (options = {}) => {
    current = new Scheduler({
      version: "t",
      heartbeatIntervalMs: 1000,
      missedHeartbeats: 3,
      allocationGraceMs: 5000,
      queue: { defaultWaitMs: 0, maxWaitMs: 1000, maxLength: 2 },
      signer: await JobTokenSigner.generate(defaults.alg, 60),
      logger: new Logger("silent"),
      ...(defaults.now ? { now: defaults.now } : {}),
      ...options,
    });
    return current;
  };
}

/**
 * Returns `registration(builderId, overrides?)`: a builder's registration at
 * a URL nothing listens at (2 cores, bwrap, holding nothing), with
 * `defaults` (the file's platform, slots ...) and then `overrides` applied.
 */
export function registrations(defaults: Partial<RegisterRequest> & Pick<RegisterRequest, "platform">): (builderId: string, overrides?: Partial<RegisterRequest>) => RegisterRequest {
  return (builderId, overrides = {}) => ({
    builderId,
    url: `http://127.0.0.1:9/${builderId}`,
    cores: 2,
    memoryBytes: 1,
    sandboxes: ["bwrap"],
    toolchains: [],
    freeToolchainBytes: 1,
    version: "t",
    maxJobs: 2,
    ...defaults,
    ...overrides,
  });
}
