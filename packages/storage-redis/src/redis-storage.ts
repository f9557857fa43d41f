import { Redis } from "ioredis";
import { backendCall, blobName, directoryPrefix, storageTimeouts, type BlobKind, type CacheStorage, type StorageSettings, type StorageUsage } from "@reprise/core";
import { endpointUrl, parseRedisOptions, type RedisOptions } from "./options.js";

/** Blobs as Redis strings under `<keyPrefix>results/<key>` and `<keyPrefix>manifests/<key>`. */
export class RedisStorage implements CacheStorage {
  readonly kind = "redis";
  readonly location: string;
  private readonly options: RedisOptions;
  private readonly client: Redis;
  private readonly ttl: number;

  constructor(settings: StorageSettings) {
    this.options = parseRedisOptions(settings.options);
    const url = new URL(endpointUrl(this.options.endpoint));
    this.location = `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}${this.options.keyPrefix ? ` (prefix ${this.options.keyPrefix})` : ""}`;
    this.ttl = this.options.ttl ?? this.options.expiration ?? 0;
    const timeouts = storageTimeouts(settings);
    this.client = new Redis(url.href, {
      ...(this.options.username ? { username: this.options.username } : {}),
      ...(this.options.password ? { password: this.options.password } : {}),
      ...(this.options.db !== undefined ? { db: this.options.db } : {}),
      lazyConnect: true,
      connectTimeout: timeouts.connectMs,
      commandTimeout: timeouts.requestMs,
      // A command fails instead of waiting for a server that is gone; the levels layer counts it.
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
      enableReadyCheck: false,
    });
    // Connection errors surface through the commands; unhandled 'error' events would only be noise.
    this.client.on("error", () => undefined);
  }

  async read(kind: BlobKind, key: string): Promise<Buffer | undefined> {
    return (await this.run(() => this.client.getBuffer(this.name(kind, key)))) ?? undefined;
  }

  async write(kind: BlobKind, key: string, data: Buffer): Promise<void> {
    const name = this.name(kind, key);
    await this.run(() => (this.ttl > 0 ? this.client.set(name, data, "EX", this.ttl) : this.client.set(name, data)));
  }

  async remove(kind: BlobKind, key: string): Promise<void> {
    await this.run(() => this.client.unlink(this.name(kind, key)));
  }

  /** Not measured: counting would mean scanning a shared server. */
  async usage(): Promise<StorageUsage> {
    return { sizeBytes: 0, entries: 0, maxSizeBytes: 0 };
  }

  /** Removes this cache's keys (those under its prefix), scanning in batches. */
  async clear(): Promise<void> {
    const stream = this.client.scanStream({ match: `${globEscape(directoryPrefix(this.options.keyPrefix))}*s/*`, count: 500 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await this.run(() => this.client.unlink(...keys));
  }

  async close(): Promise<void> {
    if (this.client.status === "wait" || this.client.status === "end") {
      this.client.disconnect();
      return;
    }
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private name(kind: BlobKind, key: string): string {
    return blobName(kind, key, this.options.keyPrefix);
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    return backendCall(`redis ${this.location}`, op);
  }
}

/** Redis SCAN patterns are globs: a prefix is matched literally. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
