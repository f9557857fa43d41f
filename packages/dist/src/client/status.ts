/** What `reprise --dist-status` shows of the farm: the scheduler's pools, asked now. */
import type { DistSettings } from "@reprise/core";
import { farmAgent } from "../http/client.js";
import { SchedulerClient } from "./scheduler-client.js";

export interface SchedulerStatusBuilder {
  builderId: string;
  url: string;
  cores: number;
  maxJobs: number;
  runningJobs: number;
  sandboxes: string[];
  toolchains: string[];
  held?: { id: string; family: string; version: string; compilerPath: string; targets: { target: string; equivalence: string }[] }[];
  rustTargets?: { target: string; held: boolean }[];
  /** Descriptor id prefixes it installs on demand (rustup: `rustc:`). */
  installable?: string[];
  lastHeartbeatMsAgo: number;
  version: string;
}

export interface SchedulerStatus {
  version?: string;
  pools: { platform: { arch: string; os: string; bits?: number }; builders: SchedulerStatusBuilder[] }[];
  counters?: Record<string, unknown>;
}

export type FarmStatus = { schedulerUrl: string; reachable: true; scheduler: SchedulerStatus } | { schedulerUrl: string; reachable: false; error: string };

export async function farmStatus(dist: DistSettings, timeoutMs = 5000): Promise<FarmStatus> {
  const dispatcher = farmAgent(dist.caFile ? { caFile: dist.caFile } : {});
  try {
    const client = new SchedulerClient(dist.schedulerUrl, dist.token, dispatcher);
    const body = (await client.status(timeoutMs)) as SchedulerStatus;
    if (!body || !Array.isArray(body.pools)) return { schedulerUrl: dist.schedulerUrl, reachable: false, error: "the scheduler's status is not what the protocol says" };
    return { schedulerUrl: dist.schedulerUrl, reachable: true, scheduler: body };
  } catch (err) {
    return { schedulerUrl: dist.schedulerUrl, reachable: false, error: (err as Error).message };
  } finally {
    await dispatcher.close().catch(() => {});
  }
}
