import memjs from "memjs";
import { backendCall, blobName, BlobTooLargeError, StorageBackendError, storageTimeouts, type BlobKind, type CacheStorage, type StorageSettings, type StorageUsage } from "@reprise/core";
import { maxValueSize, parseMemcachedOptions, serverList, type MemcachedOptions } from "./options.js";

const quiet = { log: () => undefined };

/**
 * Blobs as memcached items under `<keyPrefix>results/<key>` (binary protocol,
 * through memjs). A blob over the item size limit is refused with
 * BlobTooLargeError before it is sent: the levels layer counts it as skipped.
 */
export class MemcachedStorage implements CacheStorage {
  readonly kind = "memcached";
  readonly location: string;
  private readonly options: MemcachedOptions;
  private readonly client: memjs.Client;
  private readonly maxValue: number;

  constructor(settings: StorageSettings) {
    this.options = parseMemcachedOptions(settings.options);
    const servers = serverList(this.options.endpoint);
    this.location = `memcached://${servers}${this.options.keyPrefix ? ` (prefix ${this.options.keyPrefix})` : ""}`;
    this.maxValue = maxValueSize(this.options);
    const timeouts = storageTimeouts(settings);
    this.client = memjs.Client.create(servers, {
      ...(this.options.username ? { username: this.options.username } : {}),
      ...(this.options.password ? { password: this.options.password } : {}),
      // memjs counts in seconds; its timeout is per attempt, so one attempt only.
      timeout: timeouts.requestMs / 1000,
      conntimeout: timeouts.connectMs / 1000,
      retries: 0,
      expires: this.options.expiration,
      keepAlive: true,
      logger: quiet,
    });
  }

  async read(kind: BlobKind, key: string): Promise<Buffer | undefined> {
    const { value } = await this.run(() => this.client.get(this.name(kind, key)));
    return value ?? undefined;
  }

  async write(kind: BlobKind, key: string, data: Buffer): Promise<void> {
    if (data.length > this.maxValue) throw new BlobTooLargeError(data.length, this.maxValue, this.location);
    const ok = await this.run(() => this.client.set(this.name(kind, key), data, { expires: this.options.expiration }));
    if (!ok) throw new StorageBackendError(this.location, "the server did not store the item");
  }

  async remove(kind: BlobKind, key: string): Promise<void> {
    await this.run(() => this.client.delete(this.name(kind, key)));
  }

  /** Not measured: memcached cannot list one cache's items. */
  async usage(): Promise<StorageUsage> {
    return { sizeBytes: 0, entries: 0, maxSizeBytes: 0 };
  }

  /** memcached cannot remove by prefix: this flushes the whole server, so only a server of its own should be cleared. */
  async clear(): Promise<void> {
    await this.run(() => this.client.flush());
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private name(kind: BlobKind, key: string): string {
    return blobName(kind, key, this.options.keyPrefix);
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    return backendCall(this.location, op);
  }
}
