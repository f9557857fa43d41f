/** What a builder keeps between jobs: job inputs (blobs) and unpacked toolchains, both bounded and evicted least-recently-used. */
import { chmodSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import type { IncomingMessage } from "node:http";
import { HASH_ALGORITHM, InputStore, ToolchainStore, ToolchainArchiveError } from "@reprise/core";
import { HttpError, readBody, receiveToFile } from "./http-io.js";

const BLOB_GRACE_MS = 30 * 60_000;
/**
 * An upload that says it is at most this long is read into memory and written
 * at once (a source file, a header): no file stream, pipeline and hashing
 * transform for a few kilobytes. Longer ones are streamed to disk.
 */
const SMALL_BLOB_BYTES = 1024 * 1024;

export interface BuilderStoresOptions {
  dataDir: string;
  toolchainCacheBytes: number;
  blobStoreBytes: number;
  maxBlobUpload: number;
  maxToolchainUpload: number;
}

export class BuilderStores {
  readonly blobs: InputStore;
  readonly toolchains: ToolchainStore;
  private readonly incoming: string;

  constructor(private readonly o: BuilderStoresOptions) {
    this.blobs = new InputStore(join(o.dataDir, "blobs"));
    this.toolchains = new ToolchainStore({ dir: join(o.dataDir, "toolchains"), maxSizeBytes: o.toolchainCacheBytes });
    this.incoming = join(o.dataDir, "incoming");
    rmSync(this.incoming, { recursive: true, force: true });
    mkdirSync(this.incoming, { recursive: true, mode: 0o700 });
  }

  /** Digests of `wanted` this builder does not hold; the ones it holds are marked used (at most once a minute each). */
  missingBlobs(wanted: string[]): string[] {
    return [...new Set(wanted)].filter((digest) => !this.blobs.holds(digest));
  }

  /** Stores an uploaded blob once its bytes hash to `digest` (else 400, nothing stored). */
  async putBlob(digest: string, req: IncomingMessage): Promise<void> {
    const target = this.blobs.blobPath(digest);
    const declared = Number(req.headers["content-length"]);
    if (declared <= SMALL_BLOB_BYTES) return this.putBlobBytes(digest, await readBody(req, Math.min(declared, this.o.maxBlobUpload)));
    const tmp = this.tempPath();
    try {
      const got = await receiveToFile(req, tmp, this.o.maxBlobUpload);
      if (got.digest !== digest) throw new HttpError(400, "digest-mismatch", `the uploaded bytes hash to ${got.digest}, not ${digest}`);
      mkdirSync(join(this.blobs.dir, digest.slice(0, 2)), { recursive: true, mode: 0o700 });
      // Read-only for everyone, as the input store keeps blobs: a sandbox's job user (not root) reads them.
      chmodSync(tmp, 0o444);
      renameSync(tmp, target);
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  /** Stores a blob received whole (a small upload, or one a run request carried) once its bytes hash to `digest` (else 400). */
  putBlobBytes(digest: string, data: Buffer): void {
    if (data.length > this.o.maxBlobUpload) throw new HttpError(413, "too-large", `blob ${digest} is larger than ${this.o.maxBlobUpload} bytes`);
    const got = createHash(HASH_ALGORITHM).update(data).digest("hex").slice(0, 64);
    if (got !== digest) throw new HttpError(400, "digest-mismatch", `the uploaded bytes hash to ${got}, not ${digest}`);
    // Written beside its place and renamed, read-only for everyone (a sandbox's job user reads it), and marked used:
    // the run's missing check that follows needs no syscall for it.
    this.blobs.putBytes(digest, data);
  }

  /** Checks an uploaded archive against its id and unpacks it safely (core's toolchain store), else 400. */
  async putToolchain(id: string, req: IncomingMessage): Promise<void> {
    if (this.toolchains.has(id)) {
      req.resume();
      return;
    }
    const tmp = this.tempPath();
    try {
      const got = await receiveToFile(req, tmp, this.o.maxToolchainUpload);
      if (got.digest !== id) throw new HttpError(400, "digest-mismatch", `the uploaded archive hashes to ${got.digest}, not ${id}`);
      try {
        await this.toolchains.ensure(id, tmp);
      } catch (err) {
        // Whatever the archive did wrong (a path out of its root, a device node, a bad gzip), nothing of it is kept.
        const detail = err instanceof ToolchainArchiveError ? err.message : `cannot unpack it: ${(err as Error).message}`;
        throw new HttpError(400, "bad-archive", `toolchain ${id} refused: ${detail}`);
      }
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  /**
   * The toolchains unpacked here and the bytes the toolchain cache may still
   * take, from one listing of the store (it reads each toolchain's metadata
   * from disk): a heartbeat asks for both every interval.
   */
  toolchainsHeld(): { ids: string[]; freeBytes: number } {
    const list = this.toolchains.list();
    const used = list.reduce((n, t) => n + t.unpackedBytes, 0);
    return { ids: list.map((t) => t.id), freeBytes: Math.max(0, this.o.toolchainCacheBytes - used) };
  }

  /** Removes least recently used blobs past the limit (never ones used within 30 minutes). */
  pruneBlobs(): number {
    return this.blobs.prune({ maxBytes: this.o.blobStoreBytes, graceMs: BLOB_GRACE_MS });
  }

  private tempPath(): string {
    return join(this.incoming, `${process.pid}-${randomBytes(8).toString("hex")}`);
  }
}
