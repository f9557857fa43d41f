/** Reading and answering farm HTTP requests on the builder (Node's own server). */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { createHash } from "node:crypto";
import { HASH_ALGORITHM } from "@reprise/core";
import { DIST_PROTOCOL_VERSION, PROTOCOL_HEADER } from "../protocol/common.js";
import { encodeJobResult, JOB_RESULT_CONTENT_TYPE, type JobResult } from "../protocol/job-result.js";

export const DEFAULT_JSON_LIMIT = 8 * 1024 * 1024;

/** An error answered as `{error:{code,message}}` with `status`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": data.length });
  res.end(data);
}

/** A job's result as raw bytes after a JSON header (protocol/job-result.ts): its outputs are not copied. */
export function sendJobResult(res: ServerResponse, result: JobResult): void {
  const { chunks, length } = encodeJobResult(result);
  res.writeHead(200, { "content-type": JOB_RESULT_CONTENT_TYPE, "content-length": length });
  for (const chunk of chunks) if (chunk.length) res.write(chunk);
  res.end();
}

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { error: { code: err.code, message: err.message }, ...err.extra });
}

/** 400 unless the request speaks this protocol version. */
export function checkProtocol(req: IncomingMessage): void {
  const v = req.headers[PROTOCOL_HEADER];
  if (v !== String(DIST_PROTOCOL_VERSION)) {
    throw new HttpError(400, "protocol-version", `this builder speaks farm protocol ${DIST_PROTOCOL_VERSION}; the request says ${v === undefined ? "none" : JSON.stringify(v)}: upgrade the older side`);
  }
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m?.[1];
}

/** The request body, refused past `limit` bytes (413). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) throw new HttpError(413, "too-large", `the body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, "too-large", `the body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** The request body parsed as JSON, refused past `limit` bytes (413). */
export async function readJson(req: IncomingMessage, limit = DEFAULT_JSON_LIMIT): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "bad-request", "the body is not JSON");
  }
}

/**
 * Streams the request body into `file`, at most `limit` bytes (413 past it),
 * and returns the content hash of what was written (the engine's hash).
 */
export async function receiveToFile(req: IncomingMessage, file: string, limit: number): Promise<{ digest: string; size: number }> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) throw new HttpError(413, "too-large", `the upload is larger than ${limit} bytes`);
  const hash = createHash(HASH_ALGORITHM);
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit) return done(new HttpError(413, "too-large", `the upload is larger than ${limit} bytes`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(req, meter, createWriteStream(file, { flags: "wx", mode: 0o600 }));
  return { digest: hash.digest("hex").slice(0, 64), size };
}
