/**
 * The builder's per-job `finished` report (node:http / node:https) against a
 * real scheduler process: it frees the job's slot, over plain HTTP and over
 * TLS with the builder's CA, and an error answer is logged with its code.
 * The builder is simulated (registered and kept alive by the test).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostPlatform } from "../../src/platform.js";
import { FinishedReports } from "../../src/builder/finished-reports.js";
import { Agent, farmRequest, heartbeat, simulatedBuilder, startSchedulerProcess, type SchedulerProcess } from "../support/scheduler-process.js";
import { tlsSchedulerSuite } from "../support/tls-scheduler-suite.js";
import { readFileSync } from "node:fs";
import type { Dispatcher } from "undici";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms for up to 15 s. */
async function eventually(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const until = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not within 15 s: ${what}`);
    await sleep(50);
  }
}

async function checkReports(s: SchedulerProcess, caFile: string | undefined, dispatcher: Dispatcher | undefined, builderId: string): Promise<void> {
  const call = (method: "POST", path: string, token: string, body: unknown) => farmRequest(s.url, method, path, { token, body, ...(dispatcher ? { dispatcher } : {}) });
  expect((await call("POST", "/v1/builders/register", s.builderToken, simulatedBuilder(builderId, { cores: 1, maxJobs: 1 }))).status).toBe(200);
  const keepAlive = setInterval(() => void call("POST", `/v1/builders/${builderId}/heartbeat`, s.builderToken, heartbeat({ runningJobs: 0 })).catch(() => {}), 200);
  const logged: string[] = [];
  const reports = new FinishedReports(s.url, s.builderToken, caFile, (_level, msg) => logged.push(msg));
  try {
    const allocate = () => call("POST", "/v1/jobs/allocate", s.clientToken, { toolchainId: `tc-${builderId}`, platforms: [hostPlatform()], maxWaitMs: 0 });
    const job = await allocate();
    expect(job.status).toBe(200);
    expect(job.body.builderId).toBe(builderId);
    expect(await allocate()).toMatchObject({ status: 503, body: { error: { code: "all-busy" } } });
    reports.send(job.body.jobId, true, 12.3);
    let next: Awaited<ReturnType<typeof allocate>> | undefined;
    await eventually("the slot is free again", async () => (next = await allocate()).status === 200);
    expect(next!.body.builderId).toBe(builderId);
    expect(logged).toEqual([]);
    reports.send(job.body.jobId, true, 1);
    await eventually("the refusal of a job reported twice is logged", () => logged.length > 0);
    expect(logged).toEqual([`job ${job.body.jobId} finished: 404 unknown-job: ${(await call("POST", `/v1/jobs/${job.body.jobId}/finished`, s.builderToken, { ok: true, durationMs: 1 })).body.error.message}`]);
  } finally {
    clearInterval(keepAlive);
    reports.close();
  }
}

describe("the builder's finished reports", () => {
  let s: SchedulerProcess;
  beforeAll(async () => {
    s = await startSchedulerProcess({ config: { heartbeatIntervalMs: 500 } });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("free the job's slot on the scheduler (http), and an error answer is logged with its code", async () => {
    await checkReports(s, undefined, undefined, "sim-finished-http");
  });

  it("say why when the scheduler cannot be reached, never throwing", async () => {
    const logged: string[] = [];
    const reports = new FinishedReports("http://127.0.0.1:9", "t", undefined, (_level, msg) => logged.push(msg));
    reports.send("job-x", false, 1);
    await eventually("the failure is logged", () => logged.length > 0);
    expect(logged[0]).toMatch(/^job job-x finished: .*ECONNREFUSED/);
    reports.close();
  });
});

describe("the builder's finished reports over TLS", () => {
  const suite = tlsSchedulerSuite("finished-tls", (certs) => ({ cert: certs.cert, key: certs.key }));

  it("free the job's slot on a scheduler serving https, trusting the builder's CA", async () => {
    const trusting = new Agent({ connect: { ca: readFileSync(suite.certs.ca) } });
    try {
      await checkReports(suite.s, suite.certs.ca, trusting, "sim-finished-tls");
    } finally {
      await trusting.close();
    }
  });
});
