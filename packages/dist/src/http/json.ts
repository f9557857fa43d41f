/**
 * Small JSON-over-HTTP pieces shared by the farm's servers: size-limited body
 * reading, the protocol-version check, and the `{error:{code,message}}` shape.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";
import { DIST_PROTOCOL_VERSION, PROTOCOL_HEADER, type ErrorCode } from "../protocol/common.js";

/** An answer other than 2xx, thrown by handlers and turned into `{error:{code,message}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: ErrorCode,
    message: string,
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** 400 `protocol-version` unless the request speaks this protocol version. */
export function checkProtocolVersion(req: IncomingMessage): void {
  const value = req.headers[PROTOCOL_HEADER];
  if (value !== String(DIST_PROTOCOL_VERSION)) {
    const got = value === undefined ? "no X-Reprise-Dist-Protocol header" : `protocol ${JSON.stringify(value)}`;
    throw new HttpError(400, "protocol-version", `this server speaks farm protocol ${DIST_PROTOCOL_VERSION}, the request has ${got}; upgrade the older side`);
  }
}

/** Reads a JSON body of at most `limit` bytes (413 `too-large` beyond, before reading it when Content-Length says so). */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new HttpError(413, "too-large", `body of ${declared} bytes exceeds the limit of ${limit}`));
  // Plain events rather than `for await`: the async iterator costs several microseconds per request on the allocation path.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.off("end", onEnd);
        reject(new HttpError(413, "too-large", `body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (size === 0) return reject(new HttpError(400, "bad-request", "empty body; a JSON object is expected"));
      try {
        resolve(JSON.parse(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new HttpError(400, "bad-request", "the body is not valid JSON"));
      }
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
  });
}

/** Validates a message against its schema; 400 `bad-request` naming the first bad field. */
export function parseMessage<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length ? issue.path.join(".") : "body";
  throw new HttpError(400, "bad-request", `${what}: ${where}: ${issue?.message ?? "invalid"}`);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  if (error.status === 413) res.shouldKeepAlive = false; // the unread rest of the body must not be taken for the next request
  sendJson(res, error.status, { error: { code: error.errorCode, message: error.message }, ...error.extra });
}

/** The request's path without its query string. */
export function requestPath(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}
