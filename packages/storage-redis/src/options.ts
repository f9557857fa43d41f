import { z } from "zod";
import { parseStorageOptions } from "@reprise/core";

const seconds = z.coerce.number().int().nonnegative();

/** Options of a redis level (config `options`, or REPRISE_REDIS_* variables as strings). */
export const redisOptionsSchema = z
  .object({
    /** redis://[user:pass@]host[:port][/db], rediss:// for TLS, or host:port. */
    endpoint: z.string().min(1),
    username: z.string().optional(),
    password: z.string().optional(),
    db: z.coerce.number().int().nonnegative().optional(),
    /** Seconds an entry lives; 0 or unset: as long as Redis keeps it (set maxmemory-policy allkeys-lru). */
    ttl: seconds.optional(),
    /** sccache's name for `ttl`. */
    expiration: seconds.optional(),
    keyPrefix: z.string().default(""),
  })
  .strict();

export type RedisOptions = z.output<typeof redisOptionsSchema>;

export function parseRedisOptions(raw: Record<string, unknown> | undefined): RedisOptions {
  return parseStorageOptions("redis", redisOptionsSchema, raw);
}

/** `host:port` as sccache accepts it, made a URL. */
export function endpointUrl(endpoint: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint.replace(/^tcp:/i, "redis:") : `redis://${endpoint}`;
}
