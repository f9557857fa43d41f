/** What a Reprise client needs to use a farm in the tests, and what it reports about it. */
import type { RemoteCounters } from "../../packages/core/src/stats/stats.js";
import type { StatsJson } from "./reprise-env.js";

/** A scheduler a client can reach: its URL and a client token. */
export interface FarmEndpoint {
  url: string;
  clientToken: string;
}

/** The client environment that sends every miss to `farm` (REPRISE_DIST_MODE=always), with `more` over it. */
export function farmClientEnv(farm: FarmEndpoint, more: Record<string, string> = {}): Record<string, string> {
  return { REPRISE_DIST_SCHEDULER_URL: farm.url, REPRISE_DIST_TOKEN: farm.clientToken, REPRISE_DIST_MODE: "always", ...more };
}

/** The farm's counters in a client's stats (zeros when it never used one). */
export function farmStats(s: StatsJson): RemoteCounters {
  return s.remote?.farm ?? { compiles: 0, bytesUploaded: 0, roundTrips: 0 };
}
