import { blobName, directoryPrefix, StorageBackendError, storageTimeouts, type BlobKind, type CacheStorage, type StorageSettings, type StorageTimeouts, type StorageUsage } from "@reprise/core";
import type { S3Client } from "@aws-sdk/client-s3";
import { endpointUrl, parseS3Options, type S3Options } from "./options.js";

type Sdk = typeof import("@aws-sdk/client-s3");

/**
 * Blobs as objects `<keyPrefix>results/<key>` in one bucket, path-style
 * addressed, through the official AWS SDK v3. The SDK is imported on the
 * first call, so a daemon without an s3 level never loads it. Credentials
 * come from the SDK's standard chain (environment, shared files, SSO, web
 * identity, instance metadata) unless `noCredentials` is set.
 */
export class S3Storage implements CacheStorage {
  readonly kind = "s3";
  readonly location: string;
  private readonly options: S3Options;
  private readonly timeouts: StorageTimeouts;
  private client: Promise<{ sdk: Sdk; client: S3Client }> | undefined;

  constructor(settings: StorageSettings) {
    this.options = parseS3Options(settings.options);
    this.timeouts = storageTimeouts(settings);
    const where = endpointUrl(this.options) ?? "aws";
    this.location = `s3://${this.options.bucket}/${directoryPrefix(this.options.keyPrefix)} (${where})`;
    // The level exists because a call uses it: start loading the SDK now, so the first request's deadline does not pay for it.
    this.connect().catch(() => undefined);
  }

  async read(kind: BlobKind, key: string): Promise<Buffer | undefined> {
    const { sdk, client } = await this.connect();
    try {
      const res = await client.send(new sdk.GetObjectCommand({ Bucket: this.options.bucket, Key: this.name(kind, key) }));
      if (!res.Body) return undefined;
      return Buffer.from(await res.Body.transformToByteArray());
    } catch (err) {
      if (err instanceof sdk.NoSuchKey || status(err) === 404) return undefined;
      throw this.failure("GetObject", err);
    }
  }

  async write(kind: BlobKind, key: string, data: Buffer): Promise<void> {
    const { sdk, client } = await this.connect();
    try {
      await client.send(new sdk.PutObjectCommand({ Bucket: this.options.bucket, Key: this.name(kind, key), Body: data, ContentLength: data.length }));
    } catch (err) {
      throw this.failure("PutObject", err);
    }
  }

  async remove(kind: BlobKind, key: string): Promise<void> {
    const { sdk, client } = await this.connect();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.name(kind, key) }));
    } catch (err) {
      if (status(err) !== 404) throw this.failure("DeleteObject", err);
    }
  }

  /** Not measured: listing a bucket costs a request per thousand objects. */
  async usage(): Promise<StorageUsage> {
    return { sizeBytes: 0, entries: 0, maxSizeBytes: 0 };
  }

  /** Deletes the objects under this cache's prefix, a page at a time. */
  async clear(): Promise<void> {
    const { sdk, client } = await this.connect();
    for (const dir of ["results/", "manifests/"]) {
      for await (const page of sdk.paginateListObjectsV2({ client }, { Bucket: this.options.bucket, Prefix: `${directoryPrefix(this.options.keyPrefix)}${dir}` })) {
        const objects = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
        if (objects.length) await client.send(new sdk.DeleteObjectsCommand({ Bucket: this.options.bucket, Delete: { Objects: objects, Quiet: true } }));
      }
    }
  }

  async close(): Promise<void> {
    const made = await this.client?.catch(() => undefined);
    made?.client.destroy();
  }

  private connect(): Promise<{ sdk: Sdk; client: S3Client }> {
    this.client ??= import("@aws-sdk/client-s3").then((sdk) => ({ sdk, client: this.makeClient(sdk) }));
    return this.client;
  }

  private makeClient(sdk: Sdk): S3Client {
    const endpoint = endpointUrl(this.options);
    return new sdk.S3Client({
      region: this.options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: true,
      // One attempt: the levels layer's breaker decides about retrying a failing store later.
      maxAttempts: 1,
      requestHandler: { connectionTimeout: this.timeouts.connectMs, requestTimeout: this.timeouts.requestMs },
      // Checksums only where the API requires them: S3-compatible servers differ in what they accept, and entries carry their own integrity check.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      ...(this.options.noCredentials
        ? { credentials: { accessKeyId: "", secretAccessKey: "" }, signer: { sign: async (request) => request } }
        : {}),
    });
  }

  private name(kind: BlobKind, key: string): string {
    return blobName(kind, key, this.options.keyPrefix);
  }

  private failure(op: string, err: unknown): StorageBackendError {
    const code = status(err);
    const hint = code === 403 ? "check the AWS credentials (or REPRISE_S3_NO_CREDENTIALS for a public bucket)" : undefined;
    return new StorageBackendError(`s3 ${this.location}`, `${op} failed${code ? ` (HTTP ${code})` : ""}: ${(err as Error).message}`, hint);
  }
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
