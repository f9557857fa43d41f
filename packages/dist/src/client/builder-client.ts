/** The client's side of a builder: run a job, and on 409 upload what it lacks and run again. */
import { createReadStream } from "node:fs";
import type { Dispatcher } from "undici";
import pLimit from "p-limit";
import type { InputStore } from "@reprise/core";
import { farmRequest, FarmRequestError, httpError } from "../http/client.js";
import type { ChunkReader } from "../http/dispatch-exchange.js";
import type { Allocation } from "./scheduler-client.js";
import type { BuilderHoldings } from "./builder-holdings.js";
import type { WireJob } from "../builder/job-message.js";
import { JOB_RESULT_CONTENT_TYPE, JOB_RESULT_LIMIT_SLACK } from "../protocol/job-result.js";

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
 * Runs `job` on the allocated builder, uploading only what it lacks: the few
 * small inputs `holdings` does not know it holds first (an edited source),
 * then whatever its 409 answer lists; at most two runs.
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
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  let roundTrips = 0;
  let bytesUploaded = 0;
  const run = async () => {
    roundTrips++;
    return farmRequest({
      method: "POST",
      url: new URL(`v1/jobs/${encodeURIComponent(alloc.jobId)}/run`, base).href,
      token: alloc.jobToken,
      json: { toolchainId: toolchain.id, job },
      // Outputs and streams travel raw: what the job may write, its header, and room for an error answer.
      maxResponseBytes: job.limits.maxOutputBytes + JOB_RESULT_LIMIT_SLACK,
      binary: JOB_RESULT_CONTENT_TYPE,
      reader,
      timeoutMs: left(),
      dispatcher,
      signal,
    });
  };
  const put = async (path: string, file: string, size: number) => {
    roundTrips++;
    const r = await farmRequest({
      method: "PUT",
      url: new URL(path, base).href,
      token: alloc.jobToken,
      headers: { "x-reprise-job-id": alloc.jobId },
      raw: createReadStream(file),
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
  const builder = alloc.builderUrl;
  const first = holdings?.toSendFirst(builder, job.inputs) ?? [];
  if (first.length) {
    await uploadAll(first.map((i) => once(`v1/blobs/${i.digest}`, inputs.blobPath(i.digest), i.size)));
    holdings?.hold(builder, first.map((i) => i.digest));
  }
  let res = await run();
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
    for (const digest of blobs) uploads.push(once(`v1/blobs/${digest}`, inputs.blobPath(digest), known.get(digest)!));
    await uploadAll(uploads);
    res = await run();
  }
  if (res.status !== 200 || res.received === undefined) throw httpError("run", res.status, res.body);
  // It ran: the builder holds every input now.
  holdings?.hold(builder, job.inputs.map((i) => i.digest));
  return { result: res.received as R, roundTrips, bytesUploaded };
}
