/**
 * A run request that carries blobs the builder lacks (docs/dist-protocol.md,
 * "A run with its blobs"): a 4-byte big-endian length, the run request's JSON
 * with a `blobs` list of `{digest, size}`, then each blob's raw bytes in that
 * order, nothing between or after. The same framing as a job's result
 * (protocol/job-result.ts): no tar headers or padding to write and parse,
 * and the digests the job names already identify each blob.
 */
import { z } from "zod";

export const RUN_WITH_BLOBS_CONTENT_TYPE = "application/vnd.reprise.run-with-blobs";
/**
 * Sent by a builder on its answers to `POST …/run`: it takes run requests
 * with blobs, up to this many bytes of body. A builder that does not send it
 * (an older one) is sent blobs by `PUT /v1/blobs/…` only.
 */
export const INLINE_BLOBS_HEADER = "x-reprise-inline-blobs";
/**
 * `POST /v1/blobs` with this type: blobs only, framed as a run with blobs
 * whose header is `{"blobs": [...]}` (docs/dist-protocol.md, "Blobs in one
 * request"). A builder that answers 404 (an older one) is sent them by `PUT`.
 */
export const BLOBS_CONTENT_TYPE = "application/vnd.reprise.blobs";
/** Longest JSON part of such a body: a job's description, never its inputs' bytes. */
export const MAX_RUN_HEADER_BYTES = 8 * 1024 * 1024;

const BlobEntrySchema = z.object({ digest: z.string().regex(/^[0-9a-f]{64}$/, "a digest is 64 hex digits"), size: z.number().int().nonnegative() }).strict();
const BlobListSchema = z.array(BlobEntrySchema).max(200_000);

/** A body that is not a run request with blobs: answered 400 `bad-request` with this message. */
export class BadRunBody extends Error {}

/**
 * The client's side without a copy: the whole body in one buffer of its final
 * size, the request (`requestJson`, a JSON object) and the blob list written,
 * and for each blob the view its `size` bytes go into (the caller fills them,
 * reading each file straight into place).
 */
export function runWithBlobsFrame(requestJson: string, blobs: readonly { digest: string; size: number }[]): { body: Buffer; slots: Buffer[] } {
  const list = JSON.stringify(blobs.map((b) => ({ digest: b.digest, size: b.size })));
  // The request's JSON is not parsed again to add the list: it is an object, so its last character is its closing brace.
  const header = `${requestJson.slice(0, -1)}${requestJson.length > 2 ? "," : ""}"blobs":${list}}`;
  const headerBytes = Buffer.byteLength(header);
  const body = Buffer.allocUnsafe(blobs.reduce((n, b) => n + b.size, 4 + headerBytes));
  body.writeUInt32BE(headerBytes, 0);
  body.write(header, 4);
  let at = 4 + headerBytes;
  const slots = blobs.map((b) => body.subarray(at, (at += b.size)));
  return { body, slots };
}

/** The same body from blobs already in memory (`data` of each). */
export function encodeRunWithBlobs(requestJson: string, blobs: readonly { digest: string; data: Buffer }[]): Buffer {
  const { body, slots } = runWithBlobsFrame(requestJson, blobs.map((b) => ({ digest: b.digest, size: b.data.length })));
  blobs.forEach((b, i) => b.data.copy(slots[i]!));
  return body;
}

/**
 * The builder's side: the run request (still to be checked as any run
 * request is, without `blobs`) and each blob's bytes as views of `body`.
 * Throws BadRunBody for a cut, padded or malformed body. The blobs' digests
 * are not checked here: the store checks each before keeping it.
 */
export function decodeRunWithBlobs(body: Buffer): { request: unknown; blobs: { digest: string; data: Buffer }[] } {
  if (body.length < 4) throw new BadRunBody("the body is too short for its header's length");
  const n = body.readUInt32BE(0);
  if (n > MAX_RUN_HEADER_BYTES) throw new BadRunBody(`the header claims ${n} bytes (at most ${MAX_RUN_HEADER_BYTES})`);
  if (4 + n > body.length) throw new BadRunBody(`the body ends inside its header (${body.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(4, 4 + n).toString("utf8"));
  } catch {
    throw new BadRunBody("the header is not JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new BadRunBody("the header is not an object");
  const { blobs: listed, ...request } = header as Record<string, unknown>;
  const list = BlobListSchema.safeParse(listed);
  if (!list.success) throw new BadRunBody(`blobs: ${list.error.issues[0]!.path.join(".")}: ${list.error.issues[0]!.message}`);
  const total = list.data.reduce((sum, b) => sum + b.size, 4 + n);
  if (total !== body.length) throw new BadRunBody(`the body is ${body.length} bytes; its header describes ${total}`);
  let at = 4 + n;
  const blobs = list.data.map((b) => {
    const data = body.subarray(at, at + b.size);
    at += b.size;
    return { digest: b.digest, data };
  });
  return { request, blobs };
}
