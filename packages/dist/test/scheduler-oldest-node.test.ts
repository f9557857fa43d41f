/**
 * The scheduler's code under the oldest Node it claims (20.11: the newest npm
 * ships for 32-bit ARMv7): started by that Node, registering builders and
 * allocating over HTTP, with a JWT client token and ES256 job tokens (EdDSA as well, in the auth tests).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { hostPlatform } from "../src/platform.js";
import { jobTokenKeyOf, signAccessToken, verifyJobToken } from "../src/auth/index.js";
import { farmRequest, heartbeat, simulatedBuilder, startSchedulerProcess, tempDir, type SchedulerProcess } from "./support/scheduler-process.js";
import { nodeFromRegistry, nodePackageForHost } from "./support/old-node.js";

const OLDEST = "20.11.0";

describe(`scheduler under Node ${OLDEST}`, () => {
  const dir = tempDir("node2011");
  let node: string;
  let s: SchedulerProcess;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  beforeAll(async () => {
    node = nodeFromRegistry(nodePackageForHost(), OLDEST);
    keys = await generateKeyPair("ES256", { extractable: true });
    const publicKeyFile = join(dir.path, "issuer.jwk.json");
    writeFileSync(publicKeyFile, JSON.stringify({ ...(await exportJWK(keys.publicKey)), alg: "ES256" }));
    s = await startSchedulerProcess({ node, config: { auth: { jwt: { publicKeyFile } } } });
  }, 300_000);
  afterAll(async () => {
    await s?.stop();
    dir.remove();
  });

  it("is really that Node", () => {
    expect(execFileSync(node, ["--version"], { encoding: "utf8" }).trim()).toBe(`v${OLDEST}`);
  });

  it("registers builders and allocates over HTTP", async () => {
    const reg = await farmRequest(s.url, "POST", "/v1/builders/register", { token: s.builderToken, body: simulatedBuilder("old-node-b", { maxJobs: 1 }) });
    expect(reg.status).toBe(200);
    expect((await farmRequest(s.url, "POST", "/v1/builders/old-node-b/heartbeat", { token: s.builderToken, body: heartbeat() })).body).toEqual({ ok: true });
    const client = await signAccessToken({ role: "client", key: keys.privateKey, alg: "ES256", expiresInSeconds: 60 });
    const alloc = await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: client, body: { toolchainId: "tc", platforms: [hostPlatform()] } });
    expect(alloc.status).toBe(200);
    await verifyJobToken(alloc.body.jobToken, { key: jobTokenKeyOf(reg.body, s.builderToken, "old-node-b"), builderId: "old-node-b", jobId: alloc.body.jobId });
    const busy = await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: s.clientToken, body: { toolchainId: "tc", platforms: [hostPlatform()], maxWaitMs: 100 } });
    expect(busy.body.error.code).toBe("all-busy");
    const forged = await farmRequest(s.url, "GET", "/v1/status", { token: "x".repeat(40) });
    expect(forged.status).toBe(401);
    const status = await farmRequest(s.url, "GET", "/v1/status", { token: s.clientToken });
    expect(status.body.counters).toMatchObject({ allocations: 1, allBusy: 1, refusedAuth: 1 });
  });

  it("allocates a batch, with a JWT client token verified once and then remembered", async () => {
    const reg = await farmRequest(s.url, "POST", "/v1/builders/register", { token: s.builderToken, body: simulatedBuilder("old-node-batch", { platform: { arch: "sparc64", os: "linux" }, maxJobs: 2 }) });
    expect(reg.status).toBe(200);
    const client = await signAccessToken({ role: "client", key: keys.privateKey, alg: "ES256", expiresInSeconds: 60 });
    const entry = { toolchainId: "tc", platforms: [{ arch: "sparc64", os: "linux" }] };
    for (const expected of [["old-node-batch", "old-node-batch", "all-busy"], ["all-busy"]]) {
      const batch = await farmRequest(s.url, "POST", "/v1/jobs/allocate-batch", { token: client, body: { requests: expected.map(() => entry) } });
      expect(batch.status).toBe(200);
      expect(batch.body.results.map((r: { builderId?: string; error?: { code: string } }) => r.builderId ?? r.error?.code)).toEqual(expected);
    }
  });
});
