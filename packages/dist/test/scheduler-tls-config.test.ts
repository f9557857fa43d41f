/** TLS with a certificate made by the test, and a scheduler that cannot start saying why in one line. */
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Agent } from "undici";
import { exportJWK, generateKeyPair } from "jose";
import { hostPlatform } from "../src/platform.js";
import { FarmRequestError, farmAgent, farmJsonRequest } from "../src/http/client.js";
import { AllocateResponseSchema, HealthResponseSchema, RegisterResponseSchema, StatusResponseSchema } from "../src/protocol/index.js";
import { DIST_BIN, farmRequest, simulatedBuilder, startSchedulerProcess, tempDir } from "./support/scheduler-process.js";
import { tlsSchedulerSuite } from "./support/tls-scheduler-suite.js";

describe("scheduler over TLS", () => {
  const suite = tlsSchedulerSuite("tls", (certs) => ({ cert: certs.cert, key: certs.key }));

  it("serves https to clients that trust its CA, and only to them", async () => {
    const { certs, s } = suite;
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const trusting = new Agent({ connect: { ca: readFileSync(certs.ca) } });
    try {
      expect(await farmRequest(s.url, "GET", "/v1/health", { dispatcher: trusting })).toMatchObject({ status: 200, body: { ok: true } });
      const reg = await farmRequest(s.url, "POST", "/v1/builders/register", { token: s.builderToken, body: simulatedBuilder("tls-b"), dispatcher: trusting });
      expect(reg.status).toBe(200);
      const alloc = await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: s.clientToken, body: { toolchainId: "tc", platforms: [hostPlatform()] }, dispatcher: trusting });
      expect(alloc.body.builderId).toBe("tls-b");
    } finally {
      await trusting.close();
    }
    const untrusting = new Agent();
    try {
      const error = await farmRequest(s.url, "GET", "/v1/health", { dispatcher: untrusting }).then(() => undefined, (e: Error & { code?: string }) => e);
      expect(error?.code ?? error?.message).toMatch(/CERT|certificate|self.signed|UNABLE/i);
    } finally {
      await untrusting.close();
    }
    const plain = await farmRequest(s.url.replace("https:", "http:"), "GET", "/v1/health").then(() => "answered", () => "refused");
    expect(plain).toBe("refused");
  });
});

describe("scheduler requiring client certificates", () => {
  const suite = tlsSchedulerSuite("mtls", (certs) => ({ cert: certs.cert, key: certs.key, ca: certs.ca, requestClientCert: true }));

  it("serves clients with a certificate from its CA, and refuses others at the handshake", async () => {
    const { certs, s } = suite;
    const withCert = new Agent({ connect: { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } });
    const withoutCert = new Agent({ connect: { ca: readFileSync(certs.ca) } });
    try {
      expect(await farmRequest(s.url, "GET", "/v1/status", { token: s.clientToken, dispatcher: withCert })).toMatchObject({ status: 200 });
      const refused = await farmRequest(s.url, "GET", "/v1/health", { dispatcher: withoutCert }).then(() => "answered", (e: Error & { code?: string }) => e.code ?? e.message);
      expect(refused).not.toBe("answered");
    } finally {
      await withCert.close();
      await withoutCert.close();
    }
  });
});

describe("a scheduler that cannot start", () => {
  const dir = tempDir("badcfg");
  afterAll(() => dir.remove());
  const tokens = { clientTokens: ["c".repeat(20)], builderTokens: ["b".repeat(20)] };

  function start(config: unknown, args: string[] = []): { status: number | null; stderr: string } {
    const file = join(dir.path, `cfg-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(config));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("REPRISE_DIST_")));
    const r = spawnSync(process.execPath, [DIST_BIN, "scheduler", "--config", file, ...args], { encoding: "utf8", env, timeout: 30_000 });
    return { status: r.status, stderr: r.stderr };
  }

  function expectOneLine(r: { status: number | null; stderr: string }, pattern: RegExp): void {
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^reprise-dist scheduler: cannot start: /);
    expect(r.stderr).toMatch(pattern);
  }

  it("says why in one line", async () => {
    expectOneLine(start({ listen: "127.0.0.1:0" }), /no client can authenticate.*REPRISE_DIST_CLIENT_TOKENS/);
    expectOneLine(start({ auth: tokens, listen: "127.0.0.1:0", heartbeatIntervalMs: "soon" }), /heartbeatIntervalMs/);
    expectOneLine(start({ auth: tokens, listen: "127.0.0.1:0", colour: "blue" }), /colour|unrecognized/i);
    expectOneLine(start({ auth: { clientTokens: ["short"], builderTokens: tokens.builderTokens } }), /at least 16 characters/);
    expectOneLine(start({ auth: tokens, listen: "nowhere" }), /cannot listen on "nowhere"/);
    expectOneLine(start({ auth: tokens, listen: "127.0.0.1:0", tls: { cert: "/nonexistent/cert.pem", key: "/nonexistent/key.pem" } }), /TLS certificate \/nonexistent\/cert\.pem: ENOENT/);
    const edKey = join(dir.path, "ed.jwk.json");
    const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
    writeFileSync(edKey, JSON.stringify({ ...(await exportJWK(privateKey)), alg: "EdDSA" }));
    expectOneLine(start({ auth: tokens, listen: "127.0.0.1:0", jobTokens: { alg: "ES256", privateKeyFile: edKey } }), /it is an EdDSA key; set jobTokens\.alg: EdDSA/);
    expectOneLine(start({ auth: tokens, listen: "127.0.0.1:0", jobTokens: { alg: "HS256", privateKeyFile: edKey } }), /HS256 job tokens use a key per builder/);
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      expectOneLine(start({ auth: tokens }, ["--listen", `127.0.0.1:${port}`]), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`));
    } finally {
      busy.close();
    }
  });
});

describe("credentials made with reprise-dist keygen and token", () => {
  const dir = tempDir("keys");
  afterAll(() => dir.remove());
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [DIST_BIN, ...args], { encoding: "utf8", timeout: 30_000 });
    if (r.status !== 0) throw new Error(`reprise-dist ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };

  it("issue JWTs the scheduler accepts, and a job-token key that survives a restart", async () => {
    const issuer = join(dir.path, "issuer.jwk.json");
    const jobKey = join(dir.path, "job-token.jwk.json");
    cli("keygen", "--out", issuer);
    cli("keygen", "--out", jobKey, "--alg", "ES256");
    expect(cli("token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const clientJwt = cli("token", "--key", issuer, "--role", "client", "--sub", "ci", "--ttl", "1h");
    const builderJwt = cli("token", "--key", issuer, "--role", "builder", "--sub", "kb1", "--ttl", "1h");
    const config = { auth: { jwt: { publicKeyFile: `${issuer}.pub.json` } }, jobTokens: { alg: "ES256", privateKeyFile: jobKey } };
    const keys = [];
    for (let run = 0; run < 2; run++) {
      const s = await startSchedulerProcess({ config });
      try {
        const reg = await farmRequest(s.url, "POST", "/v1/builders/register", { token: builderJwt, body: simulatedBuilder("kb1") });
        expect(reg.status).toBe(200);
        keys.push(reg.body.schedulerPublicKey);
        const alloc = await farmRequest(s.url, "POST", "/v1/jobs/allocate", { token: clientJwt, body: { toolchainId: "tc", platforms: [hostPlatform()] } });
        expect(alloc.body.builderId).toBe("kb1");
      } finally {
        await s.stop();
      }
    }
    expect(keys[0]).toEqual(keys[1]);
    expect(keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256" });
    expect(keys[0].d).toBeUndefined();
  });
});

describe("farmJsonRequest (the client helper builders and daemons use)", () => {
  const suite = tlsSchedulerSuite("client", (certs) => ({ cert: certs.cert, key: certs.key }));

  it("validates answers and turns every failure into a FarmRequestError with the server's code", async () => {
    const { certs, s } = suite;
    const agent = await farmAgent({ caFile: certs.ca });
    try {
      const reg = await farmJsonRequest({ method: "POST", url: `${s.url}/v1/builders/register`, token: s.builderToken, body: simulatedBuilder("fjr"), schema: RegisterResponseSchema, dispatcher: agent });
      expect(reg.jobTokenAlg).toBe("HS256");
      const alloc = await farmJsonRequest({ method: "POST", url: `${s.url}/v1/jobs/allocate`, token: s.clientToken, body: { toolchainId: "tc", platforms: [hostPlatform()] }, schema: AllocateResponseSchema, dispatcher: agent });
      expect(alloc.builderId).toBe("fjr");
      const refused = await farmJsonRequest({ method: "GET", url: `${s.url}/v1/status`, token: s.builderToken, schema: StatusResponseSchema, dispatcher: agent }).catch((e: FarmRequestError) => e);
      expect(refused).toBeInstanceOf(FarmRequestError);
      expect(refused).toMatchObject({ status: 401, errorCode: "unauthenticated" });
      const none = await farmJsonRequest({ method: "POST", url: `${s.url}/v1/jobs/allocate`, token: s.clientToken, body: { toolchainId: "tc", platforms: [{ arch: "s390x", os: "linux" }] }, schema: AllocateResponseSchema, dispatcher: agent }).catch((e: FarmRequestError) => e);
      expect(none).toMatchObject({ status: 503, errorCode: "no-builder" });
    } finally {
      await agent.close();
    }
    const port = new URL(s.url).port;
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const unreachable = await farmJsonRequest({ method: "GET", url: `http://127.0.0.1:${deadPort}/v1/health`, token: "t", schema: HealthResponseSchema, timeoutMs: 2000 }).catch((e: FarmRequestError) => e);
    expect(unreachable).toMatchObject({ status: 0, errorCode: "unreachable" });
    expect(port).not.toBe(String(deadPort));
    const untrusted = await farmJsonRequest({ method: "GET", url: `${s.url}/v1/health`, token: "t", schema: HealthResponseSchema, timeoutMs: 2000 }).catch((e: FarmRequestError) => e);
    expect(untrusted).toMatchObject({ status: 0, errorCode: "unreachable" });
    expect((untrusted as Error).message).toMatch(/certificate|self.signed|UNABLE/i);
  });
});
