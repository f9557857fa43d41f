/** The builder's HTTP(S) endpoints (docs/dist-protocol.md). */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { readFileSync } from "node:fs";
import { REPRISE_VERSION, type Platform } from "@reprise/core";
import { bearerToken, checkProtocol, HttpError, readBody, readJson, sendError, sendJobResult, sendJson } from "./http-io.js";
import { BadRunBody, BLOBS_CONTENT_TYPE, decodeRunWithBlobs, INLINE_BLOBS_HEADER, RUN_WITH_BLOBS_CONTENT_TYPE } from "../protocol/run-body.js";
import { jobFromWire, RunRequestSchema, type RunRequest } from "./job-message.js";
import { isPlainRunRequest } from "./run-request-check.js";
import type { JobTokenVerifier } from "./job-tokens.js";
import type { JobRunner } from "./job-runner.js";
import type { BuilderStores } from "./stores.js";

const DIGEST = /^[0-9a-f]{64}$/;
const JOB_ID = /^[A-Za-z0-9._:-]{1,256}$/;
/** The protocol's limit on `jobIds` in a heartbeat. */
const MAX_REPORTED_JOBS = 10_000;
/** How long a job stays in heartbeats after its last request: the gap to its client's next request, or its `finished` report. */
const REPORTED_AFTER_LAST_REQUEST_MS = 15_000;

export interface BuilderServerOptions {
  platform: Platform;
  stores: BuilderStores;
  runner: JobRunner;
  /** Largest run request with blobs taken (413 past it). */
  maxInlineBody: number;
  /** The current verifier (replaced when the builder registers again). */
  verifier: () => JobTokenVerifier | undefined;
  tls?: { certFile: string; keyFile: string };
  onJobDone: (jobId: string, ok: boolean, durationMs: number) => void;
  log: (level: "info" | "warn" | "debug", msg: string) => void;
}

export interface BuilderCounters {
  refusedAuth: number;
  jobs: number;
  missingAnswers: number;
  uploadsRefused: number;
  /** Blobs received inside run requests. */
  inlineBlobs: number;
}

export class BuilderServer {
  readonly server: Server;
  readonly counters: BuilderCounters = { refusedAuth: 0, jobs: 0, missingAnswers: 0, uploadsRefused: 0, inlineBlobs: 0 };
  /** Jobs a client is sending requests for (run, upload): how many are open, and until when to report the job after the last. */
  private readonly heard = new Map<string, { open: number; until: number }>();

  constructor(private readonly o: BuilderServerOptions) {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = o.tls ? createHttpsServer({ cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile) }, handler) : createHttpServer(handler);
    this.server.requestTimeout = 15 * 60_000;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /**
   * The jobs heard of lately, for heartbeats: the scheduler frees allocations
   * no client claimed. A job is listed while a request of its client is open
   * (a run, an upload) and for a while after the last one: the gaps between
   * a client's requests, and the time its `finished` report takes. Undefined
   * past the protocol's limit (the scheduler then falls back on counting).
   */
  jobsHeardOf(now = Date.now()): string[] | undefined {
    for (const [id, h] of this.heard) if (h.open === 0 && h.until < now) this.heard.delete(id);
    return this.heard.size <= MAX_REPORTED_JOBS ? [...this.heard.keys()] : undefined;
  }

  /** Notes a request for job `id` until its answer is sent or its connection ends. */
  private claim(id: string, res: ServerResponse): void {
    let h = this.heard.get(id);
    if (!h) this.heard.set(id, (h = { open: 0, until: 0 }));
    h.open++;
    res.once("close", () => {
      h.open--;
      h.until = Date.now() + REPORTED_AFTER_LAST_REQUEST_MS;
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? "/", "http://builder").pathname;
      if (req.method === "GET" && path === "/v1/health") return sendJson(res, 200, { ok: true, version: REPRISE_VERSION, platform: this.o.platform });
      checkProtocol(req);
      let m: RegExpExecArray | null;
      if (req.method === "POST" && (m = /^\/v1\/jobs\/([^/]+)\/run$/.exec(path))) return await this.run(req, res, decodeURIComponent(m[1]!));
      if (req.method === "PUT" && (m = /^\/v1\/blobs\/([^/]+)$/.exec(path))) {
        const digest = m[1]!;
        await this.authorize(req, res);
        if (!DIGEST.test(digest)) throw new HttpError(400, "bad-request", "a blob digest is 64 hex digits");
        await this.upload(() => this.o.stores.putBlob(digest, req));
        return sendJson(res, 200, { ok: true });
      }
      if (req.method === "POST" && path === "/v1/blobs") {
        await this.authorize(req, res);
        await this.upload(() => this.putBlobs(req));
        return sendJson(res, 200, { ok: true });
      }
      if (req.method === "PUT" && (m = /^\/v1\/toolchains\/([^/]+)$/.exec(path))) {
        const id = m[1]!;
        this.sameToolchain(await this.authorize(req, res), id);
        if (!DIGEST.test(id)) throw new HttpError(400, "bad-request", "a toolchain id is 64 hex digits");
        await this.upload(() => this.o.stores.putToolchain(id, req));
        return sendJson(res, 200, { ok: true });
      }
      throw new HttpError(404, "not-found", `no ${req.method} ${path} here`);
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      if (err instanceof HttpError) {
        if (err.status >= 500 || err.status === 401 || err.status === 403) this.o.log("warn", `${req.method} ${req.url}: ${err.status} ${err.code}: ${err.message}`);
        // The rest of an upload we refused is not read: close the connection after answering.
        if (!req.complete) res.setHeader("connection", "close");
        return sendError(res, err);
      }
      this.o.log("warn", `${req.method} ${req.url}: ${(err as Error).stack ?? err}`);
      sendError(res, new HttpError(500, "internal", (err as Error).message));
    }
  }

  private async upload(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.counters.uploadsRefused++;
      throw err;
    }
  }

  /** Every request but health carries the job token of its job: the one in the URL, or for uploads the one named in `x-reprise-job-id`. */
  private async authorize(req: IncomingMessage, res: ServerResponse, jobId?: string): Promise<{ toolchainId?: string }> {
    const verifier = this.o.verifier();
    if (!verifier) throw new HttpError(503, "unavailable", "this builder is not registered with a scheduler yet");
    const id = jobId ?? headerValue(req, "x-reprise-job-id");
    if (id === undefined || !JOB_ID.test(id)) {
      this.counters.refusedAuth++;
      throw new HttpError(401, "unauthenticated", "an upload names the job its token is for in x-reprise-job-id");
    }
    const check = verifier.verify(bearerToken(req), id);
    if (!check.ok) {
      this.counters.refusedAuth++;
      throw new HttpError(check.status, check.status === 401 ? "unauthenticated" : "forbidden", check.reason);
    }
    this.claim(id, res);
    return check.toolchainId ? { toolchainId: check.toolchainId } : {};
  }

  /** A token allocated for one toolchain runs and uploads that toolchain only. */
  private sameToolchain(granted: { toolchainId?: string }, asked: string): void {
    if (granted.toolchainId && granted.toolchainId !== asked) {
      this.counters.refusedAuth++;
      throw new HttpError(403, "forbidden", "the job token was issued for another toolchain");
    }
  }

  /** A run request as JSON, or with the blobs its client believes this builder lacks (protocol/run-body.ts); any other body is refused (415). */
  private async runBody(req: IncomingMessage): Promise<{ request: RunRequest; blobs: { digest: string; data: Buffer }[] }> {
    const type = String(req.headers["content-type"] ?? "application/json").split(";")[0]!.trim();
    if (type === "application/json") return { request: runRequest(await readJson(req)), blobs: [] };
    if (type !== RUN_WITH_BLOBS_CONTENT_TYPE) {
      throw new HttpError(415, "unsupported-body", `a run request is application/json or ${RUN_WITH_BLOBS_CONTENT_TYPE}, not ${type}: this builder speaks no other (upgrade the older side)`);
    }
    try {
      const { request, blobs } = decodeRunWithBlobs(await readBody(req, this.o.maxInlineBody));
      return { request: runRequest(request), blobs };
    } catch (err) {
      throw err instanceof BadRunBody ? new HttpError(400, "bad-request", `run with blobs: ${err.message}`) : err;
    }
  }

  /** Keeps blobs a run request carried: only the job's own inputs, each only if its bytes hash to its digest (400 `digest-mismatch`, nothing run). */
  private keepBlobs(blobs: { digest: string; data: Buffer }[], request: RunRequest): void {
    const sizes = new Map(request.job.inputs.map((i) => [i.digest, i.size]));
    for (const b of blobs) {
      if (sizes.get(b.digest) !== b.data.length) throw new HttpError(400, "bad-request", `run with blobs: blob ${b.digest} (${b.data.length} bytes) is no input of the job`);
    }
    for (const b of blobs) {
      if (this.o.stores.blobs.holds(b.digest)) continue;
      try {
        this.o.stores.putBlobBytes(b.digest, b.data);
      } catch (err) {
        this.counters.uploadsRefused++;
        throw err;
      }
      this.counters.inlineBlobs++;
    }
  }

  /**
   * Blobs in one request (protocol/run-body.ts, `BLOBS_CONTENT_TYPE`): each
   * kept as if uploaded by `PUT` (its bytes hashed to its digest, else 400
   * `digest-mismatch`), within `maxInlineBody` for the whole body (413).
   */
  private async putBlobs(req: IncomingMessage): Promise<void> {
    const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim();
    if (type !== BLOBS_CONTENT_TYPE) throw new HttpError(415, "unsupported-body", `blobs are sent as ${BLOBS_CONTENT_TYPE}, not ${type}`);
    let decoded;
    try {
      decoded = decodeRunWithBlobs(await readBody(req, this.o.maxInlineBody));
    } catch (err) {
      throw err instanceof BadRunBody ? new HttpError(400, "bad-request", `blobs: ${err.message}`) : err;
    }
    if (Object.keys(decoded.request as object).length) throw new HttpError(400, "bad-request", "blobs: the header holds the blob list only");
    for (const b of decoded.blobs) {
      if (this.o.stores.blobs.holds(b.digest)) continue;
      this.o.stores.putBlobBytes(b.digest, b.data);
    }
  }

  private async run(req: IncomingMessage, res: ServerResponse, jobId: string): Promise<void> {
    if (!JOB_ID.test(jobId)) throw new HttpError(400, "bad-request", "bad job id");
    // Every answer to a run says this builder takes blobs with the run, and how many bytes of them.
    res.setHeader(INLINE_BLOBS_HEADER, String(this.o.maxInlineBody));
    const granted = await this.authorize(req, res, jobId);
    const { request, blobs } = await this.runBody(req);
    this.sameToolchain(granted, request.toolchainId);
    const job = jobFromWire(request.toolchainId, request.job, this.o.runner.caps);
    if (blobs.length) this.keepBlobs(blobs, request);
    const missing = this.o.runner.missing(job);
    if (missing) {
      this.counters.missingAnswers++;
      throw new HttpError(409, "missing", `missing ${missing.toolchain ? "the toolchain and " : ""}${missing.blobs.length} blob(s)`, { missing });
    }
    const aborted = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) aborted.abort();
    });
    const started = performance.now();
    this.counters.jobs++;
    let ok = false;
    try {
      const result = await this.o.runner.run(job, aborted.signal);
      ok = true;
      this.o.log("debug", `job ${jobId}: ${job.argv[0]} with toolchain ${job.toolchainId.slice(0, 12)}, exit status ${result.exitCode}, queued ${result.timings?.queuedMs ?? "?"} ms, ran ${result.timings?.runMs ?? "?"} ms (ended at ${Date.now()})`);
      sendJobResult(res, result);
    } finally {
      this.o.onJobDone(jobId, ok, performance.now() - started);
    }
  }
}

/** The run request in `body`: a well-formed one passes the plain check; zod judges the rest and words the 400. */
function runRequest(body: unknown): RunRequest {
  if (isPlainRunRequest(body)) return body;
  const parsed = RunRequestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new HttpError(400, "bad-request", `job: ${issue.path.join(".")}: ${issue.message}`);
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
