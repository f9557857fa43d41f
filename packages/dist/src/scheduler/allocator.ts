/**
 * Which builder gets a job: among accepting builders of a pool that can run
 * the toolchain and below their `maxJobs`, a free builder of the preferred
 * pool first, then the least loaded (running jobs per core), then one that
 * already holds the toolchain, then the one that waited longest since its
 * last allocation (spreads equal builders evenly).
 */
import { runningJobs, type BuilderEntry, type BuilderRegistry } from "./registry.js";

export interface AllocationQuery {
  toolchainId: string;
  /** Pool keys (normalised "os/arch") of every platform that can run the toolchain. */
  poolKeys: readonly string[];
  preferPoolKey?: string;
}

export type Choice = { builder: BuilderEntry } | { none: "no-builder" | "all-busy" };

export function chooseBuilder(registry: BuilderRegistry, query: AllocationQuery): Choice {
  let best: BuilderEntry | undefined;
  let bestPreferred = false;
  let bestLoad = Infinity;
  let bestHolds = false;
  let anyBuilder = false;
  for (const key of query.poolKeys) {
    const pool = registry.pools.get(key);
    if (!pool || pool.size === 0) continue;
    anyBuilder = true;
    const preferred = key === query.preferPoolKey;
    for (const builder of pool) {
      if (!builder.acceptingJobs) continue;
      const running = runningJobs(builder);
      if (running >= builder.maxJobs) continue;
      const load = running / builder.cores;
      const holds = builder.toolchains.has(query.toolchainId);
      if (best) {
        if (bestPreferred !== preferred) {
          if (bestPreferred) continue;
        } else if (load !== bestLoad) {
          if (load > bestLoad) continue;
        } else if (holds !== bestHolds) {
          if (bestHolds) continue;
        } else if (builder.lastAllocatedAt >= best.lastAllocatedAt) {
          continue;
        }
      }
      best = builder;
      bestPreferred = preferred;
      bestLoad = load;
      bestHolds = holds;
    }
  }
  if (best) return { builder: best };
  return { none: anyBuilder ? "all-busy" : "no-builder" };
}
