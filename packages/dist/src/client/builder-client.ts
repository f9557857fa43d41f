/** The client's side of a builder: run a job, with the blobs it believes the builder lacks; on 409 send what it lacks and run again. */
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { open } from "node:fs/promises";
import type { Dispatcher } from "undici";
import pLimit from "p-limit";
import type { InputStore } from "@reprise/core";
import { farmRequest, FarmRequestError, httpError } from "../http/client.js";
import type { ChunkReader } from "../http/dispatch-exchange.js";
import type { Allocation } from "./scheduler-client.js";
import type { BuilderHoldings } from "./builder-holdings.js";
import type { WireJob } from "../builder/job-message.js";
import { JOB_RESULT_CONTENT_TYPE, JOB_RESULT_LIMIT_SLACK } from "../protocol/job-result.js";
import { BLOBS_CONTENT_TYPE, INLINE_BLOBS_HEADER, runWithBlobsFrame, RUN_WITH_BLOBS_CONTENT_TYPE } from "../protocol/run-body.js";

/** The job's toolchain: an archive the client uploads when the builder lacks it, or a descriptor (no archive) the builder provides itself. */
export interface RemoteToolchain {
  id: string;
  archivePath?: string;
  archiveBytes?: number;
  /** The builder's own toolchain (an equivalent): never uploaded; a builder that lacks it fails the job. */
  ownedByBuilder?: boolean;
}

export interface RunExchange<R> {
  /** What `reader` made of the builder's result (protocol/job-result.ts) as it arrived. */
  result: R;
  roundTrips: number;
  bytesUploaded: number;
}

const UPLOADS_AT_ONCE = 8;
/** A run request with blobs is built in memory: at most this many bytes of it, and no blob larger than this in it (larger ones are streamed by upload). */
const INLINE_MAX_BYTES = 32 * 1024 * 1024;
const INLINE_BLOB_MAX_BYTES = 4 * 1024 * 1024;

/** An upload to the builder failed (refused, cut off or timed out): the builder answered the job, so it is not unreachable. */
export class UploadError extends FarmRequestError {
  constructor(cause: FarmRequestError) {
    super(cause.kind, cause.message.startsWith("upload") ? cause.message : `upload: ${cause.message}`, cause.status, cause.errorCode, cause.body);
    this.name = "UploadError";
  }
}

/** Uploads under way from this process, by builder and path. */
const inFlight = new Map<string, Promise<void>>();
/**
 * Blobs some run request is carrying to a builder now (`<builder>\0<digest>`:
 * how many runs). A job that needs one of them uploads it instead (one upload
 * serves every job that asks meanwhile) rather than carrying it too: the
 * first wave of a cold `make -j8` would otherwise send each shared header in
 * eight requests. Waiting for the carrying run would wait for its compile.
 */
const carrying = new Map<string, number>();
/** Builders that answered 404 to blobs in one request (older ones): sent each blob by its own `PUT`. */
const noBlobBatches = new Set<string>();

/**
 * Runs `job` on the allocated builder, sending only what it lacks: the few
 * small inputs `holdings` does not know it holds go with the first run (an
 * edited source: one request), then whatever its 409 answer lists goes with
 * the second (the toolchain by upload). A builder that does not take blobs
 * with a run (an older one) is sent them by upload first.
 */
export async function runOnBuilder<R>(
  alloc: Allocation,
  toolchain: RemoteToolchain,
  job: WireJob,
  inputs: InputStore,
  dispatcher: Dispatcher,
  timeoutMs: number,
  signal: AbortSignal,
  /** A reader of the result's bytes as they arrive (client/result-receiver.ts); it throws FarmRequestError for garbage. */
  reader: () => ChunkReader<R>,
  onMissing?: (missing: { toolchain: boolean; blobs: string[] }) => void,
  holdings?: BuilderHoldings,
): Promise<RunExchange<R>> {
  const base = alloc.builderUrl.endsWith("/") ? alloc.builderUrl : `${alloc.builderUrl}/`;
  const builder = alloc.builderUrl;
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  let roundTrips = 0;
  let bytesUploaded = 0;
  // Serialised once: every run of the job sends the same request, with or without blobs after it.
  const requestJson = JSON.stringify({ toolchainId: toolchain.id, job });
  const run = async (blobs: readonly JobInput[]) => {
    roundTrips++;
    const body = blobs.length ? await blobsBody(requestJson, blobs, inputs) : Buffer.from(requestJson);
    const res = await farmRequest({
      method: "POST",
      url: new URL(`v1/jobs/${encodeURIComponent(alloc.jobId)}/run`, base).href,
      token: alloc.jobToken,
      raw: body,
      rawType: blobs.length ? RUN_WITH_BLOBS_CONTENT_TYPE : "application/json",
      // Outputs and streams travel raw: what the job may write, its header, and room for an error answer.
      maxResponseBytes: job.limits.maxOutputBytes + JOB_RESULT_LIMIT_SLACK,
      binary: JOB_RESULT_CONTENT_TYPE,
      reader,
      timeoutMs: left(),
      dispatcher,
      signal,
    });
    holdings?.heardInline(builder, res.headers?.[INLINE_BLOBS_HEADER]);
    bytesUploaded += blobs.reduce((n, b) => n + b.size, 0);
    return res;
  };
  const put = async (path: string, file: string, size: number) => {
    roundTrips++;
    // A blob of the input store is never rewritten: a small one goes as one buffer read at once, not through a file stream.
    let raw: Buffer | NodeJS.ReadableStream;
    try {
      raw = size <= SYNC_READ_MAX ? readWholeBlobSync(file, size) : createReadStream(file);
    } catch (err) {
      // As when the stream fails: an upload that failed.
      throw new FarmRequestError("unreachable", `PUT ${path}: ${(err as Error).message}`);
    }
    const r = await farmRequest({
      method: "PUT",
      url: new URL(path, base).href,
      token: alloc.jobToken,
      headers: { "x-reprise-job-id": alloc.jobId },
      raw,
      rawLength: size,
      timeoutMs: left(),
      dispatcher,
      signal,
    });
    if (r.status !== 200) throw new UploadError(httpError(`upload ${path}`, r.status, r.body));
    bytesUploaded += size;
  };
  const limit = pLimit(UPLOADS_AT_ONCE);
  // Misses of one build ask the same builder for the same toolchain at once: one upload serves them all.
  const once = (path: string, file: string, size: number) => {
    const key = `${base}\0${path}`;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = limit(() =>
        put(path, file, size).catch((err: unknown) => {
          throw err instanceof FarmRequestError && !(err instanceof UploadError) ? new UploadError(err) : err;
        }),
      ).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };
  const uploadAll = async (uploads: Promise<void>[]) => {
    const settled = await Promise.allSettled(uploads);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
  };
  /** Blobs in one request (`POST v1/blobs`): false when the builder does not take them so (404: an older one). */
  const putBatch = async (blobs: readonly JobInput[]): Promise<boolean> => {
    roundTrips++;
    const size = blobs.reduce((n, b) => n + b.size, 0);
    const r = await farmRequest({
      method: "POST",
      url: new URL("v1/blobs", base).href,
      token: alloc.jobToken,
      headers: { "x-reprise-job-id": alloc.jobId },
      raw: await blobsBody("{}", blobs, inputs),
      rawType: BLOBS_CONTENT_TYPE,
      timeoutMs: left(),
      dispatcher,
      signal,
    });
    if (r.status === 404) {
      noBlobBatches.add(builder);
      return false;
    }
    if (r.status !== 200) throw new UploadError(httpError(`upload of ${blobs.length} blobs`, r.status, r.body));
    bytesUploaded += size;
    return true;
  };
  /**
   * Uploads `blobs` (each once per builder at a time, as `once`): those a
   * builder taking run bodies (`room`) can take in one request go together,
   * as many requests as its limit needs; a cold wave's jobs otherwise sent
   * each header a shared run was carrying by a `PUT` of its own, 100 and
   * more requests per job. The rest, and every blob for a builder that does
   * not take them together, one `PUT` each.
   */
  const putBlobs = (blobs: readonly JobInput[]): Promise<void>[] => {
    const room = holdings?.inlineLimit(builder);
    const pending: Promise<void>[] = [];
    const single: JobInput[] = [];
    let batch: JobInput[] = [];
    let budget = 0;
    const batches: JobInput[][] = [];
    for (const b of blobs) {
      const known = inFlight.get(`${base}\0v1/blobs/${b.digest}`);
      if (known) pending.push(known);
      else if (room === undefined || noBlobBatches.has(builder) || b.size > INLINE_BLOB_MAX_BYTES || 4 + 64 + 100 + b.size > Math.min(room, INLINE_MAX_BYTES)) single.push(b);
      else {
        if (!batch.length || b.size + 100 > budget) {
          batch = [];
          batches.push(batch);
          budget = Math.min(room, INLINE_MAX_BYTES) - 4 - 64;
        }
        batch.push(b);
        budget -= b.size + 100;
      }
    }
    for (const group of batches) {
      if (group.length === 1) {
        single.push(group[0]!);
        continue;
      }
      const sent = limit(() =>
        putBatch(group).catch((err: unknown) => {
          throw err instanceof FarmRequestError && !(err instanceof UploadError) ? new UploadError(err) : err;
        }),
      ).then((taken) => (taken ? undefined : uploadAll(group.map((b) => put(`v1/blobs/${b.digest}`, inputs.blobPath(b.digest), b.size)))));
      const keys = group.map((b) => `${base}\0v1/blobs/${b.digest}`);
      const settled = sent.finally(() => {
        for (const k of keys) if (inFlight.get(k) === settled) inFlight.delete(k);
      });
      for (const k of keys) inFlight.set(k, settled);
      pending.push(settled);
    }
    for (const b of single) pending.push(once(`v1/blobs/${b.digest}`, inputs.blobPath(b.digest), b.size));
    return pending;
  };
  /** Runs with `blobs` in the request where the builder takes them (else uploaded first); a builder that turns out not to take them is sent them by upload. */
  const runWith = async (blobs: readonly JobInput[]) => {
    const busy = new Set(blobs.filter((b) => carrying.has(`${base}\0${b.digest}`) || inFlight.has(`${base}\0v1/blobs/${b.digest}`)));
    const { inline, upload } = splitInline(blobs.filter((b) => !busy.has(b)), holdings?.inlineLimit(builder), requestJson.length);
    // Marked before anything is awaited: misses answered 409 together each see what the others carry.
    const carried = inline.map((b) => `${base}\0${b.digest}`);
    for (const k of carried) carrying.set(k, (carrying.get(k) ?? 0) + 1);
    let res: Awaited<ReturnType<typeof run>>;
    try {
      await uploadAll(putBlobs([...upload, ...busy]));
      res = await run(inline);
    } finally {
      for (const k of carried) {
        const n = carrying.get(k)! - 1;
        if (n > 0) carrying.set(k, n);
        else carrying.delete(k);
      }
    }
    if (!inline.length || res.status === 200 || res.status === 409) return res;
    // Answered without the header of a builder that takes blobs with the run: an older builder now at that address.
    if (holdings?.inlineLimit(builder) === undefined && (res.status === 400 || res.status === 415)) {
      await uploadAll(putBlobs(inline));
      return run([]);
    }
    // Refused for the blobs it carried (bytes that do not match their digest, too large): an upload that failed.
    if (res.status === 400 || res.status === 413) throw new UploadError(httpError("run with blobs", res.status, res.body));
    return res;
  };
  const first = holdings?.toSendFirst(builder, job.inputs) ?? [];
  let res = await runWith(first);
  if (first.length && res.status === 200) holdings?.hold(builder, first.map((i) => i.digest));
  if (res.status === 409) {
    const missing = (res.body as { missing?: { toolchain?: unknown; blobs?: unknown } })?.missing;
    const blobs = Array.isArray(missing?.blobs) ? missing.blobs.filter((b): b is string => typeof b === "string") : [];
    const known = new Map(job.inputs.map((i) => [i.digest, i.size]));
    onMissing?.({ toolchain: missing?.toolchain === true, blobs: blobs.map((b) => job.inputs.find((i) => i.digest === b)?.path ?? b) });
    if (blobs.some((b) => !known.has(b))) throw new FarmRequestError("garbage", "the builder asked for a blob the job does not have");
    holdings?.lost(builder, blobs);
    const uploads: Promise<void>[] = [];
    if (missing?.toolchain === true && toolchain.ownedByBuilder) throw new FarmRequestError("garbage", `the builder no longer holds its own toolchain ${toolchain.id}`);
    if (missing?.toolchain === true) {
      if (toolchain.archivePath === undefined || toolchain.archiveBytes === undefined) throw new FarmRequestError("garbage", `the builder asked for the archive of descriptor ${toolchain.id}, which it must provide itself`);
      uploads.push(once(`v1/toolchains/${toolchain.id}`, toolchain.archivePath, toolchain.archiveBytes));
    }
    await uploadAll(uploads);
    res = await runWith(blobs.map((digest) => ({ digest, size: known.get(digest)! })));
  }
  if (res.status !== 200 || res.received === undefined) throw httpError("run", res.status, res.body);
  // It ran: the builder holds every input now.
  holdings?.hold(builder, job.inputs.map((i) => i.digest));
  return { result: res.received as R, roundTrips, bytesUploaded };
}

interface JobInput {
  digest: string;
  size: number;
}

/** A blob up to this size is read without the thread pool: a promise-based read costs four round trips there, several times the read. */
const SYNC_READ_MAX = 1024 * 1024;

/** The run request (or `{}` for blobs alone) with `blobs` after it, each read from the input store straight into its place in the one body buffer. */
async function blobsBody(requestJson: string, blobs: readonly JobInput[], inputs: InputStore): Promise<Buffer> {
  const { body, slots } = runWithBlobsFrame(requestJson, blobs);
  await Promise.all(blobs.map((b, i) => (b.size <= SYNC_READ_MAX ? readBlobSync(inputs.blobPath(b.digest), slots[i]!) : readBlob(inputs.blobPath(b.digest), slots[i]!))));
  return body;
}

function readWholeBlobSync(path: string, size: number): Buffer {
  const data = Buffer.allocUnsafe(size);
  readBlobSync(path, data);
  return data;
}

function readBlobSync(path: string, into: Buffer): void {
  const fd = openSync(path, "r");
  try {
    for (let at = 0; at < into.length; ) {
      const n = readSync(fd, into, at, into.length - at, at);
      if (n === 0) throw new Error(`input blob ${path} is shorter than its ${into.length} bytes`);
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}

async function readBlob(path: string, into: Buffer): Promise<void> {
  const handle = await open(path, "r");
  try {
    for (let at = 0; at < into.length; ) {
      const { bytesRead } = await handle.read(into, at, into.length - at, at);
      if (bytesRead === 0) throw new Error(`input blob ${path} is shorter than its ${into.length} bytes`);
      at += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/**
 * Which of `blobs` go inside the run request: all that fit the builder's
 * limit (`room`, none when it takes uploads only) and this client's, each
 * small enough to be read into memory; the rest are uploaded as files.
 */
function splitInline(blobs: readonly JobInput[], room: number | undefined, requestBytes: number): { inline: JobInput[]; upload: JobInput[] } {
  if (room === undefined || !blobs.length) return { inline: [], upload: [...blobs] };
  // The request's JSON, the blob list added to it, and the length prefix.
  let budget = Math.min(room, INLINE_MAX_BYTES) - requestBytes - 4 - 100 * blobs.length - 64;
  const inline: JobInput[] = [];
  const upload: JobInput[] = [];
  for (const b of blobs) {
    if (b.size <= INLINE_BLOB_MAX_BYTES && b.size <= budget) {
      inline.push(b);
      budget -= b.size;
    } else upload.push(b);
  }
  return { inline, upload };
}
