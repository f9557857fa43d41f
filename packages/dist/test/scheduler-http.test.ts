/**
 * The scheduler as its own process, spoken to over real HTTP on loopback.
 * Builders here are simulated: registrations and heartbeats sent by the test,
 * with no process behind their URLs (the scheduler never calls builders).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair, exportJWK } from "jose";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostPlatform } from "../src/platform.js";
import { signAccessToken, verifyJobToken, JobTokenError, jobTokenKeyOf, type JobTokenKey } from "../src/auth/index.js";
import { SchedulerClient } from "../src/client/scheduler-client.js";
import { Agent, declareBody, farmRequest, heartbeat, simulatedBuilder, startSchedulerProcess, tempDir, type SchedulerProcess } from "./support/scheduler-process.js";

const HOST = hostPlatform();
const OTHER = { arch: "riscv64", os: "linux" }; // a simulated second pool
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("scheduler over HTTP (simulated builders)", () => {
  let s: SchedulerProcess;
  beforeAll(async () => {
    s = await startSchedulerProcess({ config: { heartbeatIntervalMs: 500, jobTokens: { alg: "ES256" } } });
  });
  afterAll(async () => {
    await s?.stop();
  });

  const register = (id: string, overrides: Record<string, unknown> = {}) => farmRequest(s.url, "POST", "/v1/builders/register", { token: s.builderToken, body: simulatedBuilder(id, overrides) });
  const beat = (id: string, overrides: Record<string, unknown> = {}) => farmRequest(s.url, "POST", `/v1/builders/${id}/heartbeat`, { token: s.builderToken, body: heartbeat(overrides) });
  const allocate = (body: Record<string, unknown>) => farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: s.clientToken, body: { toolchainId: "tc-a", platforms: [HOST], maxWaitMs: 0, ...body } });
  const finish = (jobId: string) => farmRequest(s.url, "POST", `/v1/jobs/${jobId}/finished`, { token: s.builderToken, body: { ok: true, durationMs: 5 } });
  const status = async () => (await farmRequest(s.url, "GET", "/v1/status", { token: s.clientToken })).body;

  it("answers health without credentials", async () => {
    const r = await farmRequest(s.url, "GET", "/v1/health", { protocol: null });
    expect(r).toMatchObject({ status: 200, body: { ok: true } });
  });

  it("registers, heartbeats, reports pools, drops a builder that stops heartbeating", async () => {
    const reg = await register("sim-drop", { platform: OTHER });
    expect(reg.status).toBe(200);
    expect(reg.body).toMatchObject({ heartbeatIntervalMs: 500, jobTokenAlg: "ES256", schedulerPublicKey: { kty: "EC", crv: "P-256", alg: "ES256" } });
    expect(reg.body.schedulerPublicKey.d).toBeUndefined();
    expect((await beat("sim-drop")).body).toEqual({ ok: true });
    const lastBeat = Date.now();
    const listed = async () => (await status()).pools.some((p: any) => p.builders.some((b: any) => b.builderId === "sim-drop"));
    expect(await listed()).toBe(true);
    while ((await listed()) && Date.now() - lastBeat < 20_000) await sleep(100);
    const silentFor = Date.now() - lastBeat;
    expect(silentFor).toBeGreaterThanOrEqual(1400); // not before 3 intervals of 500 ms (less the request's own latency)
    expect(silentFor).toBeLessThan(20_000);
    const again = await beat("sim-drop");
    expect(again).toMatchObject({ status: 404, body: { error: { code: "unknown-builder" } } });
    expect((await status()).counters.droppedBuilders).toBeGreaterThanOrEqual(1);
  });

  it("allocates least loaded first, prefers the toolchain's holder, respects maxJobs, frees on finished", async () => {
    // Kept alive by heartbeats during the test.
    await register("sim-a", { cores: 4, maxJobs: 2, toolchains: [] });
    await register("sim-b", { cores: 4, maxJobs: 2, toolchains: ["tc-a"] });
    const keepAlive = setInterval(() => void beat("sim-a", { runningJobs: 0 }).then(() => beat("sim-b", { runningJobs: 0, toolchains: ["tc-a"] })), 150);
    try {
      const first = await allocate({});
      expect(first.status).toBe(200);
      expect(first.body.builderId).toBe("sim-b"); // both idle: the one holding tc-a
      expect(first.body.builderUrl).toBe("http://127.0.0.1:9/sim-b");
      const second = await allocate({});
      expect(second.body.builderId).toBe("sim-a"); // sim-b now has 1 running job per 4 cores
      const third = await allocate({});
      expect(third.body.builderId).toBe("sim-b"); // equal load again: the holder
      const fourth = await allocate({});
      expect(fourth.body.builderId).toBe("sim-a");
      const busy = await allocate({});
      expect(busy).toMatchObject({ status: 503, body: { error: { code: "all-busy" } } });
      expect(await finish(second.body.jobId)).toMatchObject({ status: 200 });
      expect((await allocate({})).body.builderId).toBe("sim-a");
      expect(await finish(second.body.jobId)).toMatchObject({ status: 404, body: { error: { code: "unknown-job" } } });
      // The job token is for that builder and job only.
      const key = (await register("sim-c", { platform: { arch: "loongarch64", os: "linux" } })).body.schedulerPublicKey;
      const claims = await verifyJobToken(first.body.jobToken, { publicKeyJwk: key, builderId: "sim-b", jobId: first.body.jobId });
      expect(claims.toolchainId).toBe("tc-a");
      const replay = await verifyJobToken(first.body.jobToken, { publicKeyJwk: key, builderId: "sim-a", jobId: first.body.jobId }).catch((e: JobTokenError) => e.refusal);
      expect(replay).toBe("wrong-builder");
      expect(first.body.expiresAt - Date.now()).toBeLessThanOrEqual(600_000);
    } finally {
      clearInterval(keepAlive);
    }
  });

  it("keeps pools apart: a job goes only to a platform that can run its toolchain", async () => {
    await register("sim-other", { platform: OTHER, cores: 64, maxJobs: 64 });
    const r = await allocate({ toolchainId: "tc-other", platforms: [OTHER] });
    expect(r.body.builderId).toBe("sim-other");
    const nobody = await allocate({ toolchainId: "tc-x", platforms: [{ arch: "s390x", os: "linux" }] });
    expect(nobody).toMatchObject({ status: 503, body: { error: { code: "no-builder" } } });
    // Spelling does not matter: Node's, uname's and GNU's names meet in one pool.
    const spelled = await allocate({ toolchainId: "tc-other", platforms: [{ arch: "RISCV64", os: "Linux" }] });
    expect(spelled.body.builderId).toBe("sim-other");
    // preferPlatform picks its pool when it has a free builder.
    await register("sim-host-big", { cores: 64, maxJobs: 64 });
    const preferred = await allocate({ platforms: [HOST, OTHER], preferPlatform: OTHER });
    expect(preferred.body.builderId).toBe("sim-other");
    const unpreferred = await allocate({ platforms: [HOST, OTHER] });
    expect(unpreferred.body.builderId).toBe("sim-host-big");
  });

  it("queues a bounded time when every builder is busy", async () => {
    await register("sim-q", { platform: { arch: "mips64el", os: "linux" }, cores: 1, maxJobs: 1 });
    const pool = [{ arch: "mips64el", os: "linux" }];
    const held = await allocate({ platforms: pool });
    expect(held.status).toBe(200);
    const t0 = Date.now();
    const timedOut = await allocate({ platforms: pool, maxWaitMs: 400 });
    const waited = Date.now() - t0;
    expect(timedOut).toMatchObject({ status: 503, body: { error: { code: "all-busy" } } });
    expect(waited).toBeGreaterThanOrEqual(380);
    expect(waited).toBeLessThan(5000);
    const waiting = allocate({ platforms: pool, maxWaitMs: 10_000 });
    await sleep(200);
    const t1 = Date.now();
    await finish(held.body.jobId);
    const served = await waiting;
    expect(served.status).toBe(200);
    expect(served.body.builderId).toBe("sim-q");
    expect(Date.now() - t1).toBeLessThan(2000);
    expect((await status()).counters.allocationsAfterWait).toBeGreaterThanOrEqual(1);
  });

  it("frees at once the slot of an allocation its client gives back unused (release), for the client that holds it only", async () => {
    const pool = [{ arch: "mips64", os: "linux" }]; // a simulated pool of its own
    await register("sim-r", { platform: pool[0], cores: 1, maxJobs: 1 });
    const keepAlive = setInterval(() => void beat("sim-r", { runningJobs: 0 }), 150);
    try {
      const held = await allocate({ platforms: pool });
      expect(held.status).toBe(200);
      expect(await allocate({ platforms: pool })).toMatchObject({ status: 503, body: { error: { code: "all-busy" } } });
      const release = (token: string) => farmRequest(s.url, "POST", `/v1/jobs/${held.body.jobId}/release`, { token, body: {} });
      // A builder's token is not a client's: refused, and the slot stays taken.
      expect([401, 403]).toContain((await release(s.builderToken)).status);
      expect((await release("not-a-token")).status).toBe(401);
      expect(await allocate({ platforms: pool })).toMatchObject({ status: 503 });
      const before = (await status()).counters.releasedByClient;
      expect(await release(s.clientToken)).toMatchObject({ status: 200, body: { ok: true } });
      // Long before the grace period (10 s) and any heartbeat could have freed it.
      const next = await allocate({ platforms: pool });
      expect(next).toMatchObject({ status: 200, body: { builderId: "sim-r" } });
      expect(await release(s.clientToken)).toMatchObject({ status: 404, body: { error: { code: "unknown-job" } } });
      expect((await status()).counters.releasedByClient - before).toBe(1);
    } finally {
      clearInterval(keepAlive);
    }
  });

  it("never hands out more slots than builders have, under concurrent requests", async () => {
    const pool = [{ arch: "ppc64le", os: "linux" }];
    await register("sim-c1", { platform: pool[0], cores: 4, maxJobs: 3 });
    await register("sim-c2", { platform: pool[0], cores: 4, maxJobs: 4 });
    // Heartbeats that report nothing running keep them registered; allocations younger than the grace period still count.
    const keepAlive = setInterval(() => void beat("sim-c1").then(() => beat("sim-c2")), 150);
    const results = await Promise.all(Array.from({ length: 40 }, () => allocate({ platforms: pool }))).finally(() => clearInterval(keepAlive));
    const granted = results.filter((r) => r.status === 200);
    expect(granted).toHaveLength(7);
    expect(granted.filter((r) => r.body.builderId === "sim-c1")).toHaveLength(3);
    expect(new Set(granted.map((r) => r.body.jobId)).size).toBe(7);
    expect(results.filter((r) => r.status === 503 && r.body.error.code === "all-busy")).toHaveLength(33);
  });

  it("allocates a batch in one request (each entry its own job and token), and the daemon's client sends concurrent allocations together", async () => {
    const platform = { arch: "sparc64", os: "linux" }; // a simulated pool of its own
    const key = (await register("sim-batch", { platform, cores: 4, maxJobs: 3 })).body.schedulerPublicKey;
    const keepAlive = setInterval(() => void beat("sim-batch").then(() => beat("sim-batch2")), 150);
    try {
      const entry = { toolchainId: "tc-batch", platforms: [platform], maxWaitMs: 0 };
      const batch = await farmRequest(s.url, "POST", "/v1/jobs/allocate-batch", {
        token: s.clientToken,
        body: { requests: [entry, entry, entry, entry, { ...entry, platforms: [{ arch: "alpha", os: "linux" }] }] },
      });
      expect(batch.status).toBe(200);
      const [a, b, c, full, nobody] = batch.body.results;
      for (const granted of [a, b, c]) {
        expect(granted.builderId).toBe("sim-batch");
        const claims = await verifyJobToken(granted.jobToken, { publicKeyJwk: key, builderId: "sim-batch", jobId: granted.jobId });
        expect(claims.toolchainId).toBe("tc-batch");
      }
      expect(new Set([a.jobId, b.jobId, c.jobId]).size).toBe(3);
      // A token is for its own job only.
      expect(await verifyJobToken(a.jobToken, { publicKeyJwk: key, builderId: "sim-batch", jobId: b.jobId }).catch((e: JobTokenError) => e.refusal)).toBe("wrong-job");
      expect(full).toMatchObject({ error: { code: "all-busy" } });
      expect(nobody).toMatchObject({ error: { code: "no-builder" } });
      // Refused like a single allocation: a builder's token, too many entries, an empty batch.
      expect((await farmRequest(s.url, "POST", "/v1/jobs/allocate-batch", { token: s.builderToken, body: { requests: [entry] } })).status).toBe(401);
      expect(await farmRequest(s.url, "POST", "/v1/jobs/allocate-batch", { token: s.clientToken, body: { requests: Array(65).fill(entry) } })).toMatchObject({ status: 400, body: { error: { code: "bad-request" } } });
      expect((await farmRequest(s.url, "POST", "/v1/jobs/allocate-batch", { token: s.clientToken, body: { requests: [] } })).status).toBe(400);
      for (const granted of [a, b, c]) expect((await finish(granted.jobId)).status).toBe(200);

      // The daemon's client: six allocations at once cost at most three requests (two go at once, alone; the other four wait for one of them).
      await register("sim-batch2", { platform, cores: 4, maxJobs: 3 });
      const client = new SchedulerClient(s.url, s.clientToken, new Agent());
      const before = (await status()).counters;
      const six = await Promise.all([0, 1, 2, 3, 4, 5].map(() => client.allocate("tc-batch", [platform], 0)));
      const after = (await status()).counters;
      expect(new Set(six.map((x) => x.jobId)).size).toBe(6);
      expect(six.filter((x) => x.builderId === "sim-batch")).toHaveLength(3);
      expect(after.allocations - before.allocations).toBe(6);
      expect(after.allocateBatches - before.allocateBatches).toBeLessThanOrEqual(3);
      // No room now: without waiting the answer is all-busy; with waiting the client asks again alone and gets the slot a finish frees.
      await expect(client.allocate("tc-batch", [platform], 0)).rejects.toMatchObject({ status: 503, errorCode: "all-busy" });
      const waiting = client.allocate("tc-batch", [platform], 20_000);
      while ((await status()).queuedRequests === 0) await sleep(50);
      expect((await finish(six[0]!.jobId)).status).toBe(200);
      expect((await waiting).builderId).toBe(six[0]!.builderId);
      expect((await status()).counters.batchDeferred - before.batchDeferred).toBe(2);
    } finally {
      clearInterval(keepAlive);
    }
  });

  it("refuses other protocol versions and oversized bodies, and counts them", async () => {
    const before = (await status()).counters;
    const v1 = await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: s.clientToken, protocol: "1", body: {} });
    expect(v1).toMatchObject({ status: 400, body: { error: { code: "protocol-version" } } });
    const none = await farmRequest(s.url, "GET", "/v1/status", { token: s.clientToken, protocol: null });
    expect(none.body.error.code).toBe("protocol-version");
    // Refused on the declared length, before a byte of the body is read.
    const big = await declareBody(s.url, "/v1/jobs/allocate", s.clientToken, 9 * 1024 * 1024);
    expect(big).toMatch(/^HTTP\/1\.1 413 /);
    expect(big.toLowerCase()).toContain("connection: close");
    const bad = await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: s.clientToken, body: { toolchainId: "tc", platforms: [] } });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: "bad-request", message: expect.stringContaining("platforms") } } });
    const badId = await farmRequest(s.url, "POST", "/v1/builders/%E0%A4%A/heartbeat", { token: s.builderToken, body: heartbeat() });
    expect(badId).toMatchObject({ status: 400, body: { error: { code: "bad-request" } } });
    const notJson = await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: s.clientToken, rawBody: "{not json" });
    expect(notJson).toMatchObject({ status: 400, body: { error: { code: "bad-request", message: expect.stringContaining("JSON") } } });
    const after = (await status()).counters;
    expect(after.refusedProtocol - before.refusedProtocol).toBe(2);
    expect(after.refusedTooLarge - before.refusedTooLarge).toBe(1);
  });

  it("refuses missing, wrong-role and unknown tokens, and counts them", async () => {
    const before = (await status()).counters.refusedAuth;
    await register("sim-tok", { platform: { arch: "s390x", os: "linux" } });
    const jobToken = (await allocate({ platforms: [{ arch: "s390x", os: "linux" }] })).body.jobToken as string;
    expect(jobToken.split(".")).toHaveLength(3);
    const cases = [
      // A job token is for one builder; replayed at the scheduler it opens nothing.
      await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: jobToken, body: { toolchainId: "tc", platforms: [HOST] } }),
      await farmRequest(s.url, "POST", "/v1/builders/sim-tok/heartbeat", { token: jobToken, body: heartbeat() }),
      await farmRequest(s.url, "POST", "/v1/jobs/allocate", { body: { toolchainId: "tc", platforms: [HOST] } }),
      await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: s.builderToken, body: { toolchainId: "tc", platforms: [HOST] } }),
      await farmRequest(s.url, "POST", "/v1/builders/register", { token: s.clientToken, body: simulatedBuilder("sim-evil") }),
      await farmRequest(s.url, "GET", "/v1/status", { token: "not-a-token-of-this-scheduler" }),
    ];
    for (const r of cases) expect(r).toMatchObject({ status: 401, body: { error: { code: "unauthenticated" } } });
    expect((await status()).counters.refusedAuth - before).toBe(6);
    expect(s.stderr()).toContain("refused");
  });
});

describe("scheduler with JWT client and builder tokens", () => {
  let s: SchedulerProcess;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  const dir = tempDir("jwt");
  beforeAll(async () => {
    keys = await generateKeyPair("ES256", { extractable: true });
    const publicKeyFile = join(dir.path, "issuer.jwk.json");
    writeFileSync(publicKeyFile, JSON.stringify({ ...(await exportJWK(keys.publicKey)), alg: "ES256" }));
    s = await startSchedulerProcess({ config: { auth: { jwt: { publicKeyFile } } } });
  });
  afterAll(async () => {
    await s?.stop();
    dir.remove();
  });

  it("accepts valid JWTs; refuses forged, expired, wrong-role and impersonating ones", async () => {
    const client = await signAccessToken({ role: "client", key: keys.privateKey, alg: "ES256", subject: "alice", expiresInSeconds: 60 });
    const builderB1 = await signAccessToken({ role: "builder", key: keys.privateKey, alg: "ES256", subject: "b1", expiresInSeconds: 60 });
    expect((await farmRequest(s.url, "POST", "/v1/builders/register", { token: builderB1, body: simulatedBuilder("b1") })).status).toBe(200);
    const alloc = await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: client, body: { toolchainId: "tc", platforms: [HOST] } });
    expect(alloc.body.builderId).toBe("b1");

    const impersonate = await farmRequest(s.url, "POST", "/v1/builders/b2/heartbeat", { token: builderB1, body: heartbeat() });
    expect(impersonate).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    const registerAsOther = await farmRequest(s.url, "POST", "/v1/builders/register", { token: builderB1, body: simulatedBuilder("b2") });
    expect(registerAsOther.status).toBe(403);

    const forger = await generateKeyPair("ES256");
    const forged = await signAccessToken({ role: "client", key: forger.privateKey, alg: "ES256", expiresInSeconds: 60 });
    const expired = await signAccessToken({ role: "client", key: keys.privateKey, alg: "ES256", expiresInSeconds: -120 });
    for (const token of [forged, expired, builderB1]) {
      const r = await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token, body: { toolchainId: "tc", platforms: [HOST] } });
      expect(r).toMatchObject({ status: 401, body: { error: { code: "unauthenticated" } } });
    }
    const counters = (await farmRequest(s.url, "GET", "/v1/status", { token: client })).body.counters;
    expect(counters.refusedForbidden).toBe(2);
    expect(counters.refusedUnauthenticated).toBe(3);
    expect(counters.refusedAuth).toBe(5);

    // A verified JWT is remembered, but only until its exp: then it is refused like any expired one.
    const shortLived = await signAccessToken({ role: "client", key: keys.privateKey, alg: "ES256", subject: "bob", expiresInSeconds: 2 });
    const expiresAt = JSON.parse(Buffer.from(shortLived.split(".")[1]!, "base64url").toString()).exp * 1000;
    for (let i = 0; i < 2; i++) expect((await farmRequest(s.url, "GET", "/v1/status", { token: shortLived })).status).toBe(200);
    while (Date.now() <= expiresAt + 50) await sleep(expiresAt + 60 - Date.now());
    expect(await farmRequest(s.url, "GET", "/v1/status", { token: shortLived })).toMatchObject({ status: 401, body: { error: { code: "unauthenticated" } } });
  });
});

describe("scheduler with HS256 job tokens (the default: a key per builder, derived on both sides)", () => {
  let s: SchedulerProcess;
  beforeAll(async () => {
    s = await startSchedulerProcess({ config: {} });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("sends each builder a salt, never a key; a job token verifies only with the chosen builder's derived key", async () => {
    const pool = { arch: "riscv64", os: "linux" };
    const reg = async (id: string) => (await farmRequest(s.url, "POST", "/v1/builders/register", { token: s.builderToken, body: simulatedBuilder(id, { platform: pool, maxJobs: 1 }) })).body;
    const r1 = await reg("hs-1");
    const r2 = await reg("hs-2");
    expect(r1.jobTokenAlg).toBe("HS256");
    expect(r1.schedulerPublicKey).toBeUndefined();
    expect(JSON.stringify(r1)).not.toMatch(/"k"|"kty"/);
    expect(r1.jobTokenSalt).not.toBe(r2.jobTokenSalt);
    const keys: Record<string, JobTokenKey> = { "hs-1": jobTokenKeyOf(r1, s.builderToken, "hs-1"), "hs-2": jobTokenKeyOf(r2, s.builderToken, "hs-2") };
    for (let i = 0; i < 2; i++) {
      const alloc = (await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: s.clientToken, body: { toolchainId: "tc", platforms: [pool] } })).body;
      const other = alloc.builderId === "hs-1" ? "hs-2" : "hs-1";
      expect(await verifyJobToken(alloc.jobToken, { key: keys[alloc.builderId], builderId: alloc.builderId, jobId: alloc.jobId })).toMatchObject({ toolchainId: "tc" });
      const replay = await verifyJobToken(alloc.jobToken, { key: keys[other], builderId: other, jobId: alloc.jobId }).catch((e: JobTokenError) => e.refusal);
      expect(replay).toBe("invalid");
      // Who knows the salt but not the builder token derives another key.
      const guessed = jobTokenKeyOf(alloc.builderId === "hs-1" ? r1 : r2, "x".repeat(43), alloc.builderId);
      expect(await verifyJobToken(alloc.jobToken, { key: guessed, builderId: alloc.builderId, jobId: alloc.jobId }).catch((e: JobTokenError) => e.refusal)).toBe("invalid");
    }
  });
});
