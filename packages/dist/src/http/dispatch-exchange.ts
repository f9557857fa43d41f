/**
 * One farm exchange through undici's `dispatch` with a handler of its own,
 * for an answer read as it arrives (a job's result): its chunks go straight
 * to a `ChunkReader`, without the readable stream and async iteration that
 * `request` puts between (0.1–0.2 ms of CPU per exchange, measured in
 * bench/farm-run-cpu.mjs). Other answers (an error, 409 `missing`) are
 * collected and parsed as JSON, as `farmRequest` does.
 */
import { getGlobalDispatcher, type Dispatcher } from "undici";
import { FarmRequestError, type FarmAnswer } from "./client.js";

/** Takes an answer's bytes as they arrive; `end` gives what they made, `abort` drops it (the answer broke off). Both `push` and `end` may throw. */
export interface ChunkReader<R = unknown> {
  push(chunk: Buffer): void;
  end(): R;
  abort(): void;
}

export interface DispatchCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
  timeoutMs: number;
  signal: AbortSignal;
  dispatcher: Dispatcher | undefined;
  /** Largest answer read; a larger one is garbage. */
  limit: number;
  /** The content type a 200 answer must have to go to the reader. */
  binary: string;
  reader: () => ChunkReader;
}

/** The exchange; a 200 answer of `binary` type comes back as the reader's `received`, any other as `{ status, body }` parsed from JSON. */
export function dispatchExchange(call: DispatchCall): Promise<FarmAnswer> {
  const what = `${call.method} ${call.url}`;
  const url = new URL(call.url);
  return new Promise<FarmAnswer>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let answerHeaders: FarmAnswer["headers"] = {};
    let reader: ChunkReader | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (outcome: () => FarmAnswer) => {
      if (done) return;
      done = true;
      call.signal.removeEventListener("abort", onAbort);
      try {
        resolve(outcome());
      } catch (err) {
        reject(err);
      }
    };
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      call.signal.removeEventListener("abort", onAbort);
      reject(err);
      try {
        reader?.abort();
      } catch {
        // the exchange has failed already; a reader that cannot clean up must not hold it open
      }
    };
    /** Ends the exchange with `err`, dropping the connection's answer. */
    const stop = (err: unknown) => {
      fail(err);
      controller?.abort(err instanceof Error ? err : new Error(String(err)));
    };
    const onAbort = () => {
      const reason = call.signal.reason as Error | undefined;
      const timedOut = reason?.name === "TimeoutError";
      stop(new FarmRequestError(timedOut ? "timeout" : "unreachable", `${what}: ${timedOut ? `no answer within ${call.timeoutMs} ms` : `aborted: ${reason?.message ?? "aborted"}`}`));
    };
    if (call.signal.aborted) return onAbort();
    call.signal.addEventListener("abort", onAbort, { once: true });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (done) c.abort(new Error("aborted"));
      },
      onResponseStart(_c, statusCode, headers) {
        status = statusCode;
        answerHeaders = headers;
        const declared = Number(headers["content-length"] ?? NaN);
        if (Number.isFinite(declared) && declared > call.limit) {
          return stop(new FarmRequestError("garbage", `${what}: an answer of ${declared} bytes exceeds ${call.limit}`, statusCode, "too-large"));
        }
        if (statusCode !== 200) return;
        const type = String(headers["content-type"] ?? "").split(";")[0]!.trim();
        if (type !== call.binary) return stop(new FarmRequestError("garbage", `${what}: the answer is ${type || "untyped"}, not ${call.binary}`, statusCode));
        try {
          reader = call.reader();
          if (typeof reader?.push !== "function") throw new TypeError(`${what}: farmRequest's reader gave no ChunkReader`);
        } catch (err) {
          reader = undefined;
          stop(err);
        }
      },
      onResponseData(_c, chunk) {
        if (done) return;
        size += chunk.length;
        if (size > call.limit) return stop(new FarmRequestError("garbage", `${what}: the answer is larger than ${call.limit} bytes`, status, "too-large"));
        if (!reader) return void chunks.push(chunk);
        try {
          reader.push(chunk);
        } catch (err) {
          stop(err);
        }
      },
      onResponseEnd() {
        if (reader) return finish(() => ({ status: 200, body: undefined, headers: answerHeaders, received: reader!.end() }));
        finish(() => ({ status, body: parseJson(what, status, chunks, size), headers: answerHeaders }));
      },
      onResponseError(_c, err) {
        const e = err as Error & { code?: string; cause?: Error };
        const timedOut = e.code === "UND_ERR_HEADERS_TIMEOUT" || e.code === "UND_ERR_BODY_TIMEOUT" || e.code === "UND_ERR_CONNECT_TIMEOUT";
        const why = timedOut ? `no answer within ${call.timeoutMs} ms` : `${e.code ?? e.name}: ${e.cause?.message ?? e.message}`;
        // A connection that broke during the answer: the answer broke off (as `farmRequest` says it).
        fail(new FarmRequestError(timedOut ? "timeout" : "unreachable", status ? `${what}: the answer broke off: ${why}` : `${what}: ${why}`));
      },
    };
    try {
      (call.dispatcher ?? getGlobalDispatcher()).dispatch(
        { origin: url.origin, path: `${url.pathname}${url.search}`, method: call.method as Dispatcher.HttpMethod, headers: call.headers, body: call.body ?? null, headersTimeout: call.timeoutMs, bodyTimeout: call.timeoutMs },
        handler,
      );
    } catch (err) {
      fail(new FarmRequestError("unreachable", `${what}: ${(err as Error).message}`));
    }
  });
}

function parseJson(what: string, status: number, chunks: Buffer[], size: number): unknown {
  const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString("utf8");
  try {
    return text.length ? JSON.parse(text) : undefined;
  } catch {
    throw new FarmRequestError("garbage", `${what}: the answer (status ${status}) is not JSON`, status);
  }
}
