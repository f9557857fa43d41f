import { z } from "zod";
import { parseStorageOptions } from "@reprise/core";

/** memcached's default item size limit (-I 1m). */
export const DEFAULT_MAX_ITEM_SIZE = 1024 * 1024;
/** Room the server needs next to the value in one item (key, flags, CAS, header). */
const ITEM_OVERHEAD = 512;

/** Options of a memcached level (config `options`, or REPRISE_MEMCACHED_* variables as strings). */
export const memcachedOptionsSchema = z
  .object({
    /** host:port, or several comma-separated; tcp:// or memcached:// prefixes are accepted. */
    endpoint: z.string().min(1),
    username: z.string().optional(),
    password: z.string().optional(),
    /** Seconds an entry lives; 0: until evicted. */
    expiration: z.coerce.number().int().nonnegative().default(0),
    keyPrefix: z.string().default(""),
    /** The server's item size limit (its -I); bigger entries are not sent. */
    maxItemSize: z.coerce.number().int().positive().default(DEFAULT_MAX_ITEM_SIZE),
  })
  .strict();

export type MemcachedOptions = z.output<typeof memcachedOptionsSchema>;

export function parseMemcachedOptions(raw: Record<string, unknown> | undefined): MemcachedOptions {
  return parseStorageOptions("memcached", memcachedOptionsSchema, raw);
}

/** The largest value that fits in one item. */
export function maxValueSize(o: MemcachedOptions): number {
  return Math.max(0, o.maxItemSize - ITEM_OVERHEAD - o.keyPrefix.length - 1);
}

/** "tcp://h:1,memcached://h:2" → "h:1,h:2", as memjs takes it. */
export function serverList(endpoint: string): string {
  return endpoint
    .split(",")
    .map((s) => s.trim().replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, ""))
    .filter(Boolean)
    .join(",");
}
