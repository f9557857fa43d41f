/**
 * The one client side of farm HTTP (daemon → scheduler/builder, builder →
 * scheduler), over undici with keep-alive: `farmRequest` for one bounded
 * exchange (JSON or a streamed upload; the answer's status and parsed JSON),
 * `farmJsonRequest` on top of it for a request whose 2xx answer is validated.
 * Not imported by the scheduler, so the scheduler's module graph stays
 * loadable on Node 20.11.
 */
import { readFileSync } from "node:fs";
import { Agent, request, type Dispatcher } from "undici";
import type { z } from "zod";
import { DIST_PROTOCOL_VERSION, DEFAULT_JSON_BODY_LIMIT, ErrorBodySchema, PROTOCOL_HEADER } from "../protocol/common.js";
import { dispatchExchange, type ChunkReader } from "./dispatch-exchange.js";

/** Why an exchange failed, in the words stats and logs use. */
export type FarmFailureKind = "unreachable" | "timeout" | "http" | "garbage";

/** A farm request that did not succeed: no answer (`status` 0), an error answer, or an answer that is not what the protocol says. */
export class FarmRequestError extends Error {
  constructor(
    /** "unreachable" (connect, reset), "timeout", "http" (an error answer), "garbage" (not what the protocol says). */
    readonly kind: FarmFailureKind,
    message: string,
    /** The answer's status; 0 when there was none. */
    readonly status = 0,
    /** The server's error code (`{error:{code}}`), else "unreachable", "timeout", "too-large" or "bad-answer". */
    readonly errorCode: string = kind === "unreachable" || kind === "timeout" ? kind : "bad-answer",
    /** The whole error body, for answers that carry more than `error` (409 `missing`). */
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "FarmRequestError";
  }

  /** `errorCode` under the name the farm client's callers used first. */
  get code(): string {
    return this.errorCode;
  }
}

export interface FarmAgentOptions {
  /** PEM file of a CA to trust for https:// URLs (a private farm); else the system roots. */
  caFile?: string;
  /** Longest connect time (default 3 s). */
  connectTimeoutMs?: number;
  connections?: number;
}

/** A keep-alive connection pool for farm requests, with the CA a config names. */
export function farmAgent(o: FarmAgentOptions = {}): Agent {
  return new Agent({
    connect: { timeout: o.connectTimeoutMs ?? 3000, ...(o.caFile ? { ca: readFileSync(o.caFile) } : {}) },
    keepAliveTimeout: 10_000,
    connections: o.connections ?? 64,
  });
}

export interface FarmCall {
  method: "GET" | "POST" | "PUT";
  url: string;
  token?: string;
  json?: unknown;
  /** A raw body (blob or archive upload). */
  raw?: Buffer | NodeJS.ReadableStream;
  rawLength?: number;
  /** The raw body's content type (default application/octet-stream). */
  rawType?: string;
  headers?: Record<string, string>;
  /** The whole exchange, connection included. */
  timeoutMs: number;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
  /** Largest answer read (default 8 MiB); a larger one is garbage and is not read further. */
  maxResponseBytes?: number;
  /** A binary content type the caller takes raw: a 200 answer of this type comes back as `bytes`, unparsed. */
  binary?: string;
  /**
   * With `binary`: reads a 200 answer of that type as it arrives (its
   * chunks, within `maxResponseBytes`) instead of collecting it into `bytes`;
   * what it returns is the answer's `received`. A broken-off answer reaches
   * it as a FarmRequestError "unreachable".
   */
  receive?: (body: AsyncIterable<Buffer>) => Promise<unknown>;
  /**
   * With `binary`, instead of `receive`: a 200 answer of that type goes to
   * this reader chunk by chunk as undici hands them over, through its
   * `dispatch` (no stream between: http/dispatch-exchange.ts); what `end`
   * returns is the answer's `received`. A broken-off answer aborts it.
   */
  reader?: () => ChunkReader;
}

/** An answer: its status and parsed JSON body, or for a `binary` answer its raw bytes (or what `receive` made of them). */
export interface FarmAnswer {
  status: number;
  body: unknown;
  /** The answer's headers (lower-case names). */
  headers?: Record<string, string | string[] | undefined>;
  bytes?: Buffer;
  received?: unknown;
}

/** The answer's status and parsed JSON body (any status); throws FarmRequestError when there is no answer, or garbage. */
export async function farmRequest(call: FarmCall): Promise<FarmAnswer> {
  const headers: Record<string, string> = { ...call.headers, [PROTOCOL_HEADER]: String(DIST_PROTOCOL_VERSION) };
  if (call.binary) headers.accept = `${call.binary}, application/json`;
  if (call.token) headers.authorization = `Bearer ${call.token}`;
  let body: string | Buffer | NodeJS.ReadableStream | undefined;
  if (call.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(call.json);
  } else if (call.raw !== undefined) {
    headers["content-type"] = call.rawType ?? "application/octet-stream";
    if (call.rawLength !== undefined) headers["content-length"] = String(call.rawLength);
    body = call.raw;
  }
  const signal = call.signal ? AbortSignal.any([call.signal, AbortSignal.timeout(call.timeoutMs)]) : AbortSignal.timeout(call.timeoutMs);
  const limit = call.maxResponseBytes ?? DEFAULT_JSON_BODY_LIMIT;
  if (call.binary && call.reader && (body === undefined || typeof body === "string" || Buffer.isBuffer(body))) {
    return dispatchExchange({ method: call.method, url: call.url, headers, body, timeoutMs: call.timeoutMs, signal, dispatcher: call.dispatcher, limit, binary: call.binary, reader: call.reader });
  }
  let res: Dispatcher.ResponseData;
  try {
    res = await request(call.url, {
      method: call.method,
      headers,
      body: body as Dispatcher.DispatchOptions["body"],
      ...(call.dispatcher ? { dispatcher: call.dispatcher } : {}),
      signal,
      headersTimeout: call.timeoutMs,
      bodyTimeout: call.timeoutMs,
    });
  } catch (err) {
    const e = err as Error & { code?: string; cause?: Error };
    const timedOut = e.name === "TimeoutError" || e.code === "UND_ERR_HEADERS_TIMEOUT" || e.code === "UND_ERR_BODY_TIMEOUT" || e.code === "UND_ERR_CONNECT_TIMEOUT";
    const why = timedOut ? `no answer within ${call.timeoutMs} ms` : `${e.code ?? e.name}: ${e.cause?.message ?? e.message}`;
    throw new FarmRequestError(timedOut ? "timeout" : "unreachable", `${call.method} ${call.url}: ${why}`);
  }
  const declared = Number(res.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    res.body.destroy();
    throw new FarmRequestError("garbage", `${call.method} ${call.url}: an answer of ${declared} bytes exceeds ${limit}`, res.statusCode, "too-large");
  }
  if (call.binary && call.receive && res.statusCode === 200) {
    checkBinaryType(call, res);
    return { status: 200, body: undefined, headers: res.headers, received: await call.receive(limitedBody(call, res, limit)) };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of limitedBody(call, res, limit)) {
    size += chunk.length;
    chunks.push(chunk);
  }
  const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  if (call.binary && res.statusCode === 200) {
    checkBinaryType(call, res);
    return { status: 200, body: undefined, headers: res.headers, bytes: whole };
  }
  const text = whole.toString("utf8");
  let parsed: unknown;
  try {
    parsed = text.length ? JSON.parse(text) : undefined;
  } catch {
    throw new FarmRequestError("garbage", `${call.method} ${call.url}: the answer (status ${res.statusCode}) is not JSON`, res.statusCode);
  }
  return { status: res.statusCode, body: parsed, headers: res.headers };
}

/** The answer's chunks, at most `limit` bytes in all; a larger or broken-off answer ends in a FarmRequestError. */
async function* limitedBody(call: FarmCall, res: Dispatcher.ResponseData, limit: number): AsyncGenerator<Buffer> {
  let size = 0;
  const chunks = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (err) {
        throw new FarmRequestError("unreachable", `${call.method} ${call.url}: the answer broke off: ${(err as Error).message}`);
      }
      if (next.done) return;
      size += next.value.length;
      if (size > limit) throw new FarmRequestError("garbage", `${call.method} ${call.url}: the answer is larger than ${limit} bytes`, res.statusCode, "too-large");
      yield next.value;
    }
  } finally {
    // A reader that stopped early (or a failure) leaves nothing of the answer open.
    if (!res.body.readableEnded) res.body.destroy();
  }
}

function checkBinaryType(call: FarmCall, res: Dispatcher.ResponseData): void {
  const type = String(res.headers["content-type"] ?? "").split(";")[0]!.trim();
  if (type !== call.binary) {
    res.body.destroy();
    throw new FarmRequestError("garbage", `${call.method} ${call.url}: the answer is ${type || "untyped"}, not ${call.binary}`, res.statusCode);
  }
}

/** The `{error:{code,message}}` of an error answer, as an exception. */
export function httpError(what: string, status: number, body: unknown): FarmRequestError {
  const error = ErrorBodySchema.safeParse(body);
  if (!error.success) return new FarmRequestError("http", `${what}: ${status}: no error message`, status, "bad-answer", body);
  const { code, message } = error.data.error;
  return new FarmRequestError("http", `${what}: ${status} ${code}: ${message}`, status, code, body);
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

/** One JSON request whose 2xx answer must match `schema`; throws `FarmRequestError` for anything else. */
export async function farmJsonRequest<T>(options: FarmRequestOptions<T>): Promise<T> {
  const res = await farmRequest({
    method: options.method,
    url: options.url,
    token: options.token,
    json: options.body,
    timeoutMs: options.timeoutMs ?? 10_000,
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    ...(options.maxResponseBytes !== undefined ? { maxResponseBytes: options.maxResponseBytes } : {}),
  });
  if (res.status < 200 || res.status >= 300) throw httpError(`${options.method} ${options.url}`, res.status, res.body);
  const result = options.schema.safeParse(res.body);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new FarmRequestError("garbage", `${options.url}: answer does not match the protocol: ${issue?.path.join(".") || "body"}: ${issue?.message}`, res.status);
  }
  return result.data;
}
