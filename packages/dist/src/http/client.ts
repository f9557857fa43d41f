/**
 * The client side of farm JSON requests (daemon → scheduler/builder, builder →
 * scheduler), over undici with keep-alive. Not imported by the scheduler, so
 * the scheduler's module graph stays loadable on Node 20.11.
 */
import { readFile } from "node:fs/promises";
import { Agent, request, type Dispatcher } from "undici";
import type { z } from "zod";
import { DIST_PROTOCOL_VERSION, DEFAULT_JSON_BODY_LIMIT, ErrorBodySchema, PROTOCOL_HEADER } from "../protocol/common.js";

/** A farm request that did not succeed: an error answer (`status` > 0) or no answer at all (`status` 0). */
export class FarmRequestError extends Error {
  readonly errorCode: string;
  constructor(
    readonly status: number,
    errorCode: string,
    message: string,
    /** The whole error body, for answers that carry more than `error` (409 `missing`). */
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "FarmRequestError";
    this.errorCode = errorCode;
  }
}

export interface FarmRequestOptions<T> {
  method: "GET" | "POST" | "PUT";
  url: string;
  token: string;
  body?: unknown;
  /** Validates a 2xx answer. */
  schema: z.ZodType<T>;
  dispatcher?: Dispatcher;
  /** Whole request, connection included (default 10 s). */
  timeoutMs?: number;
  maxResponseBytes?: number;
}

/** One JSON request with the protocol header and bearer token; throws `FarmRequestError`. */
export async function farmJsonRequest<T>(options: FarmRequestOptions<T>): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const limit = options.maxResponseBytes ?? DEFAULT_JSON_BODY_LIMIT;
  let response: Dispatcher.ResponseData;
  try {
    response = await request(options.url, {
      method: options.method,
      headers: {
        [PROTOCOL_HEADER]: String(DIST_PROTOCOL_VERSION),
        authorization: `Bearer ${options.token}`,
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      dispatcher: options.dispatcher,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (error) {
    const why = error instanceof Error && error.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
    throw new FarmRequestError(0, "unreachable", `${options.method} ${options.url}: ${why}`);
  }
  const declared = Number(response.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    response.body.destroy();
    throw new FarmRequestError(response.statusCode, "too-large", `${options.url}: answer of ${declared} bytes exceeds ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      response.body.destroy();
      throw new FarmRequestError(response.statusCode, "too-large", `${options.url}: answer exceeds ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new FarmRequestError(response.statusCode, "bad-answer", `${options.url}: answer ${response.statusCode} is not JSON`);
  }
  if (response.statusCode < 200 || response.statusCode >= 300) {
    const error = ErrorBodySchema.safeParse(parsed);
    if (error.success) throw new FarmRequestError(response.statusCode, error.data.error.code, error.data.error.message, parsed);
    throw new FarmRequestError(response.statusCode, "bad-answer", `${options.url}: answer ${response.statusCode} without an error body`, parsed);
  }
  const result = options.schema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new FarmRequestError(response.statusCode, "bad-answer", `${options.url}: answer does not match the protocol: ${issue?.path.join(".") || "body"}: ${issue?.message}`);
  }
  return result.data;
}

/** A keep-alive undici Agent; with `caFile` (PEM) it trusts only that CA (a private farm), else the system roots. */
export async function farmAgent(options: { caFile?: string; connections?: number } = {}): Promise<Agent> {
  const ca = options.caFile ? await readFile(options.caFile) : undefined;
  return new Agent({ connections: options.connections ?? 64, keepAliveTimeout: 30_000, connect: ca ? { ca } : undefined });
}
