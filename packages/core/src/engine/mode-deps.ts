import type pLimit from "p-limit";
import type { CallOutcomes } from "./call-outcomes.js";
import type { ManifestMemo } from "./direct-mode.js";
import type { HitServer } from "./serve-hit.js";
import type { MissStore } from "./store-miss.js";
import type { FallbackLater } from "./fallback-later.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { Stats } from "../stats/stats.js";
import type { Logger } from "../util/logger.js";
import type { IncludeSearches } from "./include-search.js";
import type { DirListings } from "./dir-listings.js";

/** What serving a call in direct or preprocessor mode needs from the daemon. */
export interface ModeDeps {
  hashes: FileHashCache;
  limit: ReturnType<typeof pLimit>;
  stats: Stats;
  logger: Logger;
  manifests: ManifestMemo;
  hits: HitServer;
  misses: MissStore;
  outcomes: CallOutcomes;
  /** When misses preprocess for the fallback key: now, or later while the daemon is idle. */
  later: FallbackLater;
  /** Include searches by compiler and options, for direct mode's absent-path guards (when an entry is stored). */
  searches: IncludeSearches;
  /** Directory listings for the same. */
  listings: DirListings;
}
