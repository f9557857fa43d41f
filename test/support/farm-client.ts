/** What a Reprise client needs to use a farm in the tests, and what it and the scheduler report about it. */
import { request } from "undici";
import type { RemoteCounters } from "../../packages/core/src/stats/stats.js";
import type { RepriseSandbox, StatsJson } from "./reprise-env.js";
import { DIST_PROTOCOL_VERSION } from "../../packages/dist/src/protocol/common.js";

/** A scheduler a client can reach: its URL and a client token. */
export interface FarmEndpoint {
  url: string;
  clientToken: string;
}

/** The client environment that sends every miss to `farm` (REPRISE_DIST_MODE=always), with `more` over it. */
export function farmClientEnv(farm: FarmEndpoint, more: Record<string, string> = {}): Record<string, string> {
  // The 2 s allocation bound is for a scheduler on its own machine; a test's shares 2 cores with the whole suite
  // (a fresh-root run at load 14-23 saw one allocation take longer and fall back as dist-scheduler-unreachable).
  return { REPRISE_DIST_SCHEDULER_URL: farm.url, REPRISE_DIST_TOKEN: farm.clientToken, REPRISE_DIST_MODE: "always", REPRISE_DIST_ALLOCATE_TIMEOUT_MS: "20000", ...more };
}

/** The farm's counters in a client's stats (zeros when it never used one). */
export function farmStats(s: StatsJson): RemoteCounters {
  return s.remote?.farm ?? { compiles: 0, bytesUploaded: 0, roundTrips: 0 };
}

/** A builder as the scheduler's status lists it (the fields the tests read). */
export interface ListedBuilder {
  builderId: string;
  /** Jobs allocated to it and not finished. */
  runningJobs: number;
  toolchains: string[];
  capabilities?: string[];
  installable?: string[];
}

/** Every builder the scheduler lists in its status, all pools together. */
export async function listedBuilders(farm: FarmEndpoint): Promise<ListedBuilder[]> {
  const r = await request(`${farm.url}/v1/status`, { headers: { authorization: `Bearer ${farm.clientToken}`, "x-reprise-dist-protocol": String(DIST_PROTOCOL_VERSION) } });
  const body = (await r.body.json()) as { pools: { builders: ListedBuilder[] }[] };
  return body.pools.flatMap((p) => p.builders);
}

/**
 * Waits (bounded: 300 polls, 200 ms apart) until the scheduler lists exactly
 * `n` builders; else fails saying how many it lists, with `detail()`.
 */
export async function waitForListedBuilders(farm: FarmEndpoint, n: number, detail: () => string = () => ""): Promise<void> {
  let listed = -1;
  for (let i = 0; i < 300; i++) {
    listed = (await listedBuilders(farm)).length;
    if (listed === n) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the scheduler lists ${listed} builders, not ${n}:\n${detail()}`);
}

/** The last warnings, errors and farm lines of a client daemon's log, for failure messages. */
export function farmLogTail(sb: RepriseSandbox): string {
  return sb.daemonLogTail(8, (l) => /WARN|ERROR|farm/.test(l));
}
