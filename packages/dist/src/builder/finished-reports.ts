/**
 * The builder's one request per job to the scheduler (`POST
 * /v1/jobs/{id}/finished`, which frees the job's slot at once), over Node's
 * own http/https client with keep-alive rather than undici: the builder sends
 * it after every job, and a CPU profile of a builder over a libuv build put
 * undici's side of it at about a tenth of the builder's own CPU per job
 * (bench/results/2026-12-06-farm-builder-launcher.md).
 * Failures are only logged: the scheduler also frees a slot once heartbeats
 * stop naming the job.
 */
import { readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { DIST_PROTOCOL_VERSION, PROTOCOL_HEADER } from "../protocol/common.js";

/** The answer's body read at most (an error message). */
const MAX_ANSWER_BYTES = 64 * 1024;
const TIMEOUT_MS = 5000;

export class FinishedReports {
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly https: boolean;

  constructor(
    private readonly schedulerUrl: string,
    private readonly token: string,
    caFile: string | undefined,
    private readonly log: (level: "warn", msg: string) => void,
  ) {
    this.https = schedulerUrl.startsWith("https:");
    this.agent = this.https ? new HttpsAgent({ keepAlive: true, ...(caFile ? { ca: readFileSync(caFile) } : {}) }) : new HttpAgent({ keepAlive: true });
  }

  /** Tells the scheduler job `jobId` ended; never throws. */
  send(jobId: string, ok: boolean, durationMs: number): void {
    const body = JSON.stringify({ ok, durationMs: Math.round(durationMs) });
    const url = new URL(`v1/jobs/${encodeURIComponent(jobId)}/finished`, this.schedulerUrl.endsWith("/") ? this.schedulerUrl : `${this.schedulerUrl}/`);
    const headers = {
      [PROTOCOL_HEADER]: String(DIST_PROTOCOL_VERSION),
      authorization: `Bearer ${this.token}`,
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
    };
    const fail = (why: string) => this.log("warn", `job ${jobId} finished: ${why}`);
    const req = (this.https ? httpsRequest : httpRequest)(url, { method: "POST", headers, agent: this.agent, timeout: TIMEOUT_MS }, (res) => this.answered(res, fail));
    req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on("error", (err) => fail(err.message));
    req.end(body);
  }

  close(): void {
    this.agent.destroy();
  }

  private answered(res: IncomingMessage, fail: (why: string) => void): void {
    if (res.statusCode === 200) {
      res.resume();
      return;
    }
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      if (text.length < MAX_ANSWER_BYTES) text += chunk;
    });
    res.on("end", () => {
      let message = "no error message";
      try {
        const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
        if (typeof parsed.error?.code === "string") message = `${parsed.error.code}: ${String(parsed.error.message)}`;
      } catch {
        // not JSON: said as "no error message"
      }
      fail(`${res.statusCode} ${message}`);
    });
    res.on("error", (err) => fail(err.message));
  }
}
