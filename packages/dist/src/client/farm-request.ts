/** One HTTP exchange with a farm server (scheduler or builder), through undici, always bounded in time. */
import { readFileSync } from "node:fs";
import { Agent, request, type Dispatcher } from "undici";

export const PROTOCOL_VERSION = 1;

/** Why an exchange failed, in the words stats and logs use. */
export class FarmRequestError extends Error {
  constructor(
    /** "unreachable" (connect/reset/timeout), "http" (an error answer), "garbage" (an answer that is not what the protocol says). */
    readonly kind: "unreachable" | "timeout" | "http" | "garbage",
    message: string,
    readonly status?: number,
    readonly code?: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "FarmRequestError";
  }
}

export interface FarmAgentOptions {
  /** PEM file of a CA to trust for https:// URLs. */
  caFile?: string;
  /** Longest connect time (default 3 s). */
  connectTimeoutMs?: number;
}

/** A connection pool for farm requests, with the CA a config names. */
export function farmAgent(o: FarmAgentOptions = {}): Dispatcher {
  return new Agent({
    connect: { timeout: o.connectTimeoutMs ?? 3000, ...(o.caFile ? { ca: readFileSync(o.caFile) } : {}) },
    keepAliveTimeout: 10_000,
    connections: 64,
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
  headers?: Record<string, string>;
  timeoutMs: number;
  dispatcher: Dispatcher;
  signal?: AbortSignal;
  /** Largest answer read (default 8 MiB); a larger one is garbage and is not read further. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE = 8 * 1024 * 1024;

/** The answer's status and parsed JSON body; throws FarmRequestError when the server cannot be reached or answers garbage. */
export async function farmRequest(call: FarmCall): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { ...call.headers, "x-reprise-dist-protocol": String(PROTOCOL_VERSION) };
  if (call.token) headers.authorization = `Bearer ${call.token}`;
  let body: string | Buffer | NodeJS.ReadableStream | undefined;
  if (call.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(call.json);
  } else if (call.raw !== undefined) {
    headers["content-type"] = "application/octet-stream";
    if (call.rawLength !== undefined) headers["content-length"] = String(call.rawLength);
    body = call.raw;
  }
  const signal = call.signal ? AbortSignal.any([call.signal, AbortSignal.timeout(call.timeoutMs)]) : AbortSignal.timeout(call.timeoutMs);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(call.url, {
      method: call.method,
      headers,
      body: body as Dispatcher.DispatchOptions["body"],
      dispatcher: call.dispatcher,
      signal,
      headersTimeout: call.timeoutMs,
      bodyTimeout: call.timeoutMs,
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    const timedOut = e.name === "TimeoutError" || e.code === "UND_ERR_HEADERS_TIMEOUT" || e.code === "UND_ERR_BODY_TIMEOUT" || e.code === "UND_ERR_CONNECT_TIMEOUT";
    throw new FarmRequestError(timedOut ? "timeout" : "unreachable", `${call.method} ${call.url}: ${e.code ?? e.name}: ${e.message}`);
  }
  const limit = call.maxResponseBytes ?? DEFAULT_MAX_RESPONSE;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        res.body.destroy();
        throw new FarmRequestError("garbage", `${call.method} ${call.url}: the answer is larger than ${limit} bytes`, res.statusCode);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof FarmRequestError) throw err;
    throw new FarmRequestError("unreachable", `${call.method} ${call.url}: the answer broke off: ${(err as Error).message}`);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  let parsed: unknown;
  try {
    parsed = text.length ? JSON.parse(text) : undefined;
  } catch {
    throw new FarmRequestError("garbage", `${call.method} ${call.url}: the answer (status ${res.statusCode}) is not JSON`, res.statusCode);
  }
  return { status: res.statusCode, body: parsed };
}

/** The `{error:{code,message}}` of an error answer, as an exception. */
export function httpError(what: string, status: number, body: unknown): FarmRequestError {
  const err = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof err?.code === "string" ? err.code : undefined;
  const message = typeof err?.message === "string" ? err.message : "no error message";
  return new FarmRequestError("http", `${what}: ${status}${code ? ` ${code}` : ""}: ${message}`, status, code, body);
}
