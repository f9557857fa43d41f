/**
 * The scheduler's HTTP face: protocol-version check, authentication of every
 * request but `GET /v1/health`, message validation, and the routes of
 * docs/dist-protocol.md. Refusals are counted.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Logger } from "@reprise/core/logger";
import { bearer, type AccessDecision, type AccessVerifier } from "../auth/access-token.js";
import { HttpError, checkProtocolVersion, parseMessage, readJsonBody, requestPath, sendError, sendJson } from "../http/json.js";
import { AllocateBatchRequestSchema, AllocateRequestSchema, FinishedRequestSchema, HeartbeatRequestSchema, RegisterRequestSchema } from "../protocol/scheduler-messages.js";
import { IdSchema } from "../protocol/common.js";
import type { Scheduler } from "./scheduler.js";

export interface RouteOptions {
  scheduler: Scheduler;
  clients: AccessVerifier;
  builders: AccessVerifier;
  version: string;
  jsonBodyLimit: number;
  logger: Logger;
}

const BUILDER_ROUTE = /^\/v1\/builders\/([^/]+)\/heartbeat$/;
const FINISHED_ROUTE = /^\/v1\/jobs\/([^/]+)\/finished$/;
const RELEASE_ROUTE = /^\/v1\/jobs\/([^/]+)\/release$/;

export function schedulerRequestListener(options: RouteOptions): RequestListener {
  const { scheduler, logger } = options;
  const counters = scheduler.counters;

  async function authenticate(req: IncomingMessage, verifier: AccessVerifier): Promise<Extract<AccessDecision, { ok: true }>> {
    const decision = await verifier.verify(req.headers.authorization);
    if (!decision.ok) throw new HttpError(401, "unauthenticated", decision.reason);
    return decision;
  }

  /** A builder JWT with a subject acts only for that builder id. */
  function checkBuilderIdentity(subject: string | undefined, builderId: string): void {
    if (subject !== undefined && subject !== builderId) {
      throw new HttpError(403, "forbidden", `this builder token is for ${JSON.stringify(subject)}, not ${JSON.stringify(builderId)}`);
    }
  }

  function pathId(raw: string): string {
    // Ids are plain ASCII (IdSchema): nothing to percent-decode, and nothing else is accepted.
    if (!IdSchema.safeParse(raw).success) throw new HttpError(400, "bad-request", `bad id in the URL: ${JSON.stringify(raw.slice(0, 260))}`);
    return raw;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = requestPath(req);
    const method = req.method ?? "GET";
    if (path === "/v1/health") {
      if (method !== "GET") throw new HttpError(405, "method-not-allowed", "use GET");
      return sendJson(res, 200, { ok: true, version: options.version });
    }
    checkProtocolVersion(req);
    if (path === "/v1/jobs/allocate") {
      if (method !== "POST") throw new HttpError(405, "method-not-allowed", "use POST");
      await authenticate(req, options.clients);
      const message = parseMessage(AllocateRequestSchema, await readJsonBody(req, options.jsonBodyLimit), "allocate");
      let onClose: (() => void) | undefined;
      const whenGone = () => {
        const gone = new AbortController();
        onClose = () => gone.abort();
        res.once("close", onClose);
        return gone.signal;
      };
      const outcome = await scheduler.allocate(message, whenGone);
      if (onClose) res.off("close", onClose);
      if (!outcome.ok) throw new HttpError(503, outcome.code, outcome.message);
      if (res.destroyed) {
        scheduler.release(outcome.response.jobId);
        return;
      }
      return sendJson(res, 200, outcome.response);
    }
    if (path === "/v1/jobs/allocate-batch") {
      if (method !== "POST") throw new HttpError(405, "method-not-allowed", "use POST");
      await authenticate(req, options.clients);
      const message = parseMessage(AllocateBatchRequestSchema, await readJsonBody(req, options.jsonBodyLimit), "allocate-batch");
      const outcomes = scheduler.allocateBatch(message.requests);
      if (res.destroyed) {
        for (const o of outcomes) if (o.ok) scheduler.release(o.response.jobId);
        return;
      }
      return sendJson(res, 200, { results: outcomes.map((o) => (o.ok ? o.response : { error: { code: o.code, message: o.message } })) });
    }
    let match = BUILDER_ROUTE.exec(path);
    if (match) {
      if (method !== "POST") throw new HttpError(405, "method-not-allowed", "use POST");
      const { subject } = await authenticate(req, options.builders);
      const builderId = pathId(match[1]!);
      checkBuilderIdentity(subject, builderId);
      const message = parseMessage(HeartbeatRequestSchema, await readJsonBody(req, options.jsonBodyLimit), "heartbeat");
      const builder = scheduler.builder(builderId);
      if (!builder) {
        counters.unknownBuilder++;
        throw new HttpError(404, "unknown-builder", `builder ${builderId} is not registered (dropped or scheduler restarted): register again`);
      }
      checkBuilderIdentity(builder.subject, builderId);
      scheduler.heartbeat(builder, message);
      return sendJson(res, 200, { ok: true });
    }
    match = FINISHED_ROUTE.exec(path);
    if (match) {
      if (method !== "POST") throw new HttpError(405, "method-not-allowed", "use POST");
      const { subject } = await authenticate(req, options.builders);
      const jobId = pathId(match[1]!);
      const message = parseMessage(FinishedRequestSchema, await readJsonBody(req, options.jsonBodyLimit), "finished");
      const builderId = scheduler.jobBuilderId(jobId);
      if (builderId === undefined) {
        counters.unknownJob++;
        throw new HttpError(404, "unknown-job", `job ${jobId} is not outstanding (finished already, or its slot was reclaimed)`);
      }
      checkBuilderIdentity(subject, builderId);
      scheduler.finished(jobId, message);
      return sendJson(res, 200, { ok: true });
    }
    match = RELEASE_ROUTE.exec(path);
    if (match) {
      // The job id is a random UUID only the allocating client was told: knowing it is the claim to the allocation.
      if (method !== "POST") throw new HttpError(405, "method-not-allowed", "use POST");
      await authenticate(req, options.clients);
      const jobId = pathId(match[1]!);
      await readJsonBody(req, options.jsonBodyLimit);
      if (!scheduler.release(jobId)) {
        counters.unknownJob++;
        throw new HttpError(404, "unknown-job", `job ${jobId} is not outstanding (finished already, or its slot was reclaimed)`);
      }
      counters.releasedByClient++;
      return sendJson(res, 200, { ok: true });
    }
    if (path === "/v1/builders/register") {
      if (method !== "POST") throw new HttpError(405, "method-not-allowed", "use POST");
      const { subject } = await authenticate(req, options.builders);
      const message = parseMessage(RegisterRequestSchema, await readJsonBody(req, options.jsonBodyLimit), "register");
      checkBuilderIdentity(subject, message.builderId);
      return sendJson(res, 200, await scheduler.register(message, subject, bearer(req.headers.authorization)));
    }
    if (path === "/v1/status") {
      if (method !== "GET") throw new HttpError(405, "method-not-allowed", "use GET");
      await authenticate(req, options.clients);
      return sendJson(res, 200, scheduler.status());
    }
    throw new HttpError(404, "not-found", `no such endpoint: ${method} ${path}`);
  }

  function count(error: HttpError): void {
    switch (error.status) {
      case 401:
        counters.refusedAuth++;
        counters.refusedUnauthenticated++;
        break;
      case 403:
        counters.refusedAuth++;
        counters.refusedForbidden++;
        break;
      case 413:
        counters.refusedTooLarge++;
        break;
      case 400:
        if (error.errorCode === "protocol-version") counters.refusedProtocol++;
        else counters.badRequests++;
        break;
    }
  }

  return (req, res) => {
    route(req, res).catch((error: unknown) => {
      const httpError = error instanceof HttpError ? error : new HttpError(500, "internal", "internal error");
      if (!(error instanceof HttpError)) {
        counters.internalErrors++;
        logger.error(`${req.method} ${req.url}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      } else if (httpError.status === 401 || httpError.status === 403) {
        // Counted in /v1/status; logged at info so a flood of bad requests cannot flood the log by default.
        logger.info(`refused ${req.method} ${requestPath(req)} from ${req.socket.remoteAddress}: ${httpError.message}`);
      }
      count(httpError);
      if (res.headersSent) return void res.destroy();
      sendError(res, httpError);
    });
  };
}
