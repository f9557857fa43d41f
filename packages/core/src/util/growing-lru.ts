import { LRUCache } from "lru-cache";

/**
 * An LRU cache of at most `maxEntries` entries that allocates as it fills.
 * lru-cache's `max` allocates its arrays for all of them up front: for the
 * daemon's large caches that was about 70 ms of CPU at every start, most of
 * a fresh daemon's own work before its first answer. Counted through
 * `maxSize` instead, lookups cost the same (measured: 0.1–0.3 µs either way).
 */
export function growingLru<K extends {}, V extends {}>(maxEntries: number): LRUCache<K, V> {
  return new LRUCache<K, V>({ maxSize: maxEntries, sizeCalculation: () => 1 });
}
