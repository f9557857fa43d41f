// A stand-in scheduler for the farm tests, used only until farm-sched's scheduler is merged:
// the contract's endpoints (docs/dist-protocol.md) with the least logic that serves them —
// static tokens, least-loaded allocation, EdDSA job tokens. Run: node mini-scheduler.mjs <port> <clientToken> <builderToken>
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

const [port = "0", clientToken, builderToken] = process.argv.slice(2);
const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
const jwk = await exportJWK(publicKey);
const HEARTBEAT_MS = 1000;
const builders = new Map();
const counters = { allocations: 0, refusedAuth: 0 };

const send = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};
const fail = (res, status, code, message) => send(res, status, { error: { code, message } });
const body = async (req) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString() || "{}");
};

function prune() {
  for (const [id, b] of builders) if (Date.now() - b.lastHeartbeat > 3 * HEARTBEAT_MS) builders.delete(id);
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/v1/health") return send(res, 200, { ok: true, version: "mini" });
    if (req.headers["x-reprise-dist-protocol"] !== "1") return fail(res, 400, "protocol-version", "protocol 1 only");
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    const isBuilder = token === builderToken;
    const isClient = token === clientToken;
    let m;
    if (req.method === "POST" && url.pathname === "/v1/builders/register") {
      if (!isBuilder) return counters.refusedAuth++, fail(res, 401, "unauthenticated", "bad builder token");
      const b = await body(req);
      builders.set(b.builderId, { ...b, runningJobs: 0, accepting: true, lastHeartbeat: Date.now() });
      return send(res, 200, { heartbeatIntervalMs: HEARTBEAT_MS, schedulerPublicKey: jwk, jobTokenAlg: "EdDSA" });
    }
    if (req.method === "POST" && (m = /^\/v1\/builders\/([^/]+)\/heartbeat$/.exec(url.pathname))) {
      if (!isBuilder) return counters.refusedAuth++, fail(res, 401, "unauthenticated", "bad builder token");
      const b = builders.get(decodeURIComponent(m[1]));
      if (!b) return fail(res, 404, "unknown-builder", "register again");
      const hb = await body(req);
      Object.assign(b, { runningJobs: hb.runningJobs, accepting: hb.acceptingJobs, toolchains: hb.toolchains, lastHeartbeat: Date.now() });
      return send(res, 200, { ok: true });
    }
    if (req.method === "POST" && (m = /^\/v1\/jobs\/([^/]+)\/finished$/.exec(url.pathname))) {
      if (!isBuilder) return counters.refusedAuth++, fail(res, 401, "unauthenticated", "bad builder token");
      await body(req);
      return send(res, 200, { ok: true });
    }
    if (req.method === "POST" && url.pathname === "/v1/jobs/allocate") {
      if (!isClient) return counters.refusedAuth++, fail(res, 401, "unauthenticated", "bad client token");
      const a = await body(req);
      prune();
      const fits = [...builders.values()].filter((b) => b.accepting && a.platforms.some((p) => p.arch === b.platform.arch && p.os === b.platform.os));
      if (!fits.length) return fail(res, 503, "no-builder", "no builder for this platform");
      fits.sort((x, y) => x.runningJobs / x.cores - y.runningJobs / y.cores);
      const b = fits[0];
      b.runningJobs++;
      counters.allocations++;
      const jobId = randomUUID();
      const expiresAt = Date.now() + 600_000;
      const jobToken = await new SignJWT({ tid: a.toolchainId }).setProtectedHeader({ alg: "EdDSA" }).setSubject(jobId).setAudience(b.builderId).setExpirationTime("10m").sign(privateKey);
      return send(res, 200, { jobId, builderId: b.builderId, builderUrl: b.url, jobToken, expiresAt });
    }
    if (req.method === "GET" && url.pathname === "/v1/status") {
      if (!isClient) return counters.refusedAuth++, fail(res, 401, "unauthenticated", "bad client token");
      prune();
      const list = [...builders.values()].map((b) => ({ builderId: b.builderId, url: b.url, cores: b.cores, maxJobs: b.maxJobs, runningJobs: b.runningJobs, sandboxes: b.sandboxes, toolchains: b.toolchains, lastHeartbeatMsAgo: Date.now() - b.lastHeartbeat, version: b.version, platform: b.platform }));
      return send(res, 200, { version: "mini", pools: list.length ? [{ platform: list[0].platform, builders: list }] : [], counters });
    }
    fail(res, 404, "not-found", url.pathname);
  } catch (err) {
    fail(res, 500, "internal", String(err));
  }
});
server.listen(Number(port), "127.0.0.1", () => process.stdout.write(`scheduler listening at http://127.0.0.1:${server.address().port}\n`));
