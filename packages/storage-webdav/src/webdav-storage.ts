import { Agent, request, type Dispatcher } from "undici";
import { blobName, directoryPrefix, StorageBackendError, storageTimeouts, type BlobKind, type CacheStorage, type StorageSettings, type StorageUsage } from "@reprise/core";
import { authorization, endpointUrl, escapePath, parseWebdavOptions, type WebdavOptions } from "./options.js";

/**
 * Blobs over plain HTTP: GET to read (404 = absent), PUT to write, DELETE to
 * remove, at `<endpoint>/<keyPrefix>results/<key>`. Works with WebDAV servers
 * (nginx's dav module with `create_full_put_path on`; elsewhere a 409 on PUT
 * creates the collections with MKCOL and tries again) and with key/value HTTP
 * caches that take arbitrary paths.
 */
export class WebdavStorage implements CacheStorage {
  readonly kind = "webdav";
  readonly location: string;
  private readonly options: WebdavOptions;
  private readonly endpoint: URL;
  private readonly auth: string | undefined;
  private readonly agent: Agent;

  constructor(settings: StorageSettings) {
    const options = parseWebdavOptions(settings.options);
    this.options = options;
    this.endpoint = endpointUrl(options);
    this.location = new URL(escapePath(directoryPrefix(options.keyPrefix)), this.endpoint).href;
    this.auth = authorization(options);
    const timeouts = storageTimeouts(settings);
    this.agent = new Agent({
      connect: { timeout: timeouts.connectMs },
      headersTimeout: timeouts.requestMs,
      bodyTimeout: timeouts.requestMs,
      keepAliveTimeout: 30_000,
    });
  }

  async read(kind: BlobKind, key: string): Promise<Buffer | undefined> {
    const res = await this.send("GET", this.url(kind, key));
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    await this.expect(res, "GET", [200]);
    return Buffer.from(await res.body.arrayBuffer());
  }

  async write(kind: BlobKind, key: string, data: Buffer): Promise<void> {
    const url = this.url(kind, key);
    let res = await this.send("PUT", url, data);
    // A missing parent collection: 409 by the WebDAV spec, 500 from nginx without create_full_put_path.
    if (res.statusCode === 409 || res.statusCode === 500) {
      await res.body.dump();
      await this.makeCollections(url);
      res = await this.send("PUT", url, data);
    }
    await this.expect(res, "PUT", [200, 201, 204]);
    await res.body.dump();
  }

  async remove(kind: BlobKind, key: string): Promise<void> {
    const res = await this.send("DELETE", this.url(kind, key));
    await this.expect(res, "DELETE", [200, 202, 204, 404]);
    await res.body.dump();
  }

  /** Not measured: HTTP caches have no common way to tell. */
  async usage(): Promise<StorageUsage> {
    return { sizeBytes: 0, entries: 0, maxSizeBytes: 0 };
  }

  /** Removes both collections (WebDAV DELETE of a collection is recursive). */
  async clear(): Promise<void> {
    for (const dir of ["results/", "manifests/"]) {
      const res = await this.send("DELETE", new URL(dir, this.location));
      await this.expect(res, "DELETE", [200, 202, 204, 404]);
      await res.body.dump();
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private url(kind: BlobKind, key: string): URL {
    return new URL(escapePath(blobName(kind, key, this.options.keyPrefix)), this.endpoint);
  }

  /** MKCOL of every collection from the endpoint down to the blob's parent (405: it exists). */
  private async makeCollections(url: URL): Promise<void> {
    const parts = url.pathname.slice(this.endpoint.pathname.length).split("/").slice(0, -1);
    let at = this.endpoint;
    for (const part of parts) {
      at = new URL(`${part}/`, at);
      const res = await this.send("MKCOL", at);
      await res.body.dump();
    }
  }

  private async send(method: string, url: URL, body?: Buffer): Promise<Dispatcher.ResponseData> {
    try {
      return await request(url, {
        method: method as Dispatcher.HttpMethod,
        dispatcher: this.agent,
        headers: {
          ...(this.auth ? { authorization: this.auth } : {}),
          ...(body ? { "content-type": "application/octet-stream" } : {}),
        },
        ...(body ? { body } : {}),
      });
    } catch (err) {
      throw new StorageBackendError(`webdav ${this.location}`, `${method} failed: ${(err as Error).message}`);
    }
  }

  private async expect(res: Dispatcher.ResponseData, method: string, ok: number[]): Promise<void> {
    if (ok.includes(res.statusCode)) return;
    await res.body.dump().catch(() => undefined);
    const hint = res.statusCode === 401 || res.statusCode === 403 ? "check REPRISE_WEBDAV_USERNAME/PASSWORD or TOKEN" : undefined;
    throw new StorageBackendError(`webdav ${this.location}`, `${method} answered HTTP ${res.statusCode}`, hint);
  }
}
