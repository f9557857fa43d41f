/**
 * Which builder gets a job: among accepting builders of a pool that can run
 * the toolchain and below their `maxJobs`, a free builder of the preferred
 * pool first, then the least loaded (running jobs per core), then one that
 * already holds the toolchain, then the one that waited longest since its
 * last allocation (spreads equal builders evenly).
 *
 * A toolchain id `<kind>:…` is a descriptor (a Rust
 * toolchain by release, commit, target and std digest): only builders that
 * hold it or can install it (an `installable` prefix) take it, holders
 * first (an install takes seconds). Jobs that `require` capabilities (a
 * linker for the target) go only to builders reporting all of them.
 */
import { runningJobs, type BuilderEntry, type BuilderRegistry } from "./registry.js";

export interface AllocationQuery {
  toolchainId: string;
  /**
   * Equivalent toolchains (docs/cross-arch.md): a builder of any pool that
   * holds one of these may take the job, with that toolchain.
   */
  equivalents?: readonly string[];
  /** Archives the client can upload, by the pool keys that can run each: a builder of such a pool may take the job with it. */
  alternatives?: readonly { toolchainId: string; poolKeys: readonly string[] }[];
  /** Pool keys (normalised "os/arch") of every platform that can run the toolchain. */
  poolKeys: readonly string[];
  preferPoolKey?: string;
  requires?: readonly string[];
}

/** Descriptor ids name their kind (`rustc:…`); archive ids (content digests) never hold a ':'. */
const DESCRIPTOR_ID = /^[a-z0-9-]+:/;

/** Whether `builder` can run jobs of this toolchain: any archive (clients upload it), a descriptor it holds or can install. */
export function canProvide(builder: BuilderEntry, toolchainId: string, descriptor: boolean): boolean {
  if (!descriptor || builder.toolchains.has(toolchainId)) return true;
  return builder.installable.some((prefix) => toolchainId.startsWith(prefix));
}

export type Choice = { builder: BuilderEntry; toolchainId: string } | { none: "no-builder" | "all-busy" };

/** The toolchain `builder` would run the job with: the client's own where its pool can run it, else an equivalent it holds. */
function usableToolchain(builder: BuilderEntry, query: AllocationQuery, inPool: boolean): string | undefined {
  if (inPool) return query.toolchainId;
  return query.equivalents?.find((id) => builder.toolchains.has(id)) ?? query.alternatives?.find((a) => a.poolKeys.includes(builder.poolKey))?.toolchainId;
}

export function chooseBuilder(registry: BuilderRegistry, query: AllocationQuery): Choice {
  let best: BuilderEntry | undefined;
  let bestPreferred = false;
  let bestLoad = Infinity;
  let bestHolds = false;
  let bestToolchain = query.toolchainId;
  let anyBuilder = false;
  const descriptor = DESCRIPTOR_ID.test(query.toolchainId);
  const requires = query.requires ?? [];
  const keys = query.equivalents?.length || query.alternatives?.length ? [...registry.pools.keys()] : query.poolKeys;
  for (const key of keys) {
    const pool = registry.pools.get(key);
    if (!pool || pool.size === 0) continue;
    const inPool = query.poolKeys.includes(key);
    const preferred = key === query.preferPoolKey;
    for (const builder of pool) {
      const toolchain = usableToolchain(builder, query, inPool);
      if (!toolchain) continue;
      if (!requires.every((c) => builder.capabilities.has(c))) continue;
      if (toolchain === query.toolchainId && descriptor && !canProvide(builder, query.toolchainId, descriptor)) continue;
      anyBuilder = true;
      if (!builder.acceptingJobs) continue;
      const running = runningJobs(builder);
      if (running >= builder.maxJobs) continue;
      const load = running / builder.cores;
      const holds = builder.toolchains.has(toolchain);
      if (best) {
        if (bestPreferred !== preferred) {
          if (bestPreferred) continue;
        } else if (descriptor && holds !== bestHolds) {
          if (bestHolds) continue;
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
      bestToolchain = toolchain;
    }
  }
  if (best) return { builder: best, toolchainId: bestToolchain };
  return { none: anyBuilder ? "all-busy" : "no-builder" };
}
