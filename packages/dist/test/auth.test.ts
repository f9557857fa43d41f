import { describe, expect, it, vi } from "vitest";
import { generateKeyPair } from "jose";
import { AccessVerifier, JobTokenError, JobTokenSigner, generateStaticToken, jobTokenKeyOf, signAccessToken, verifyJobToken } from "../src/auth/index.js";
import { JobTokenVerifier } from "../src/builder/job-tokens.js";

describe("job tokens", () => {
  for (const alg of ["EdDSA", "ES256"] as const) {
    it(`${alg}: accepted by the chosen builder for its job only`, async () => {
      const signer = await JobTokenSigner.generate(alg, 60);
      const { token, expiresAt } = await signer.sign({ jobId: "job-1", builderId: "b1", toolchainId: "tc" });
      expect(expiresAt).toBeGreaterThan(Date.now());
      const claims = await verifyJobToken(token, { publicKeyJwk: signer.publicKeyJwk, builderId: "b1", jobId: "job-1" });
      expect(claims).toMatchObject({ jobId: "job-1", builderId: "b1", toolchainId: "tc" });

      const refusal = (p: Promise<unknown>) => p.then(() => "accepted", (e: JobTokenError) => `${e.refusal}/${e.status}`);
      expect(await refusal(verifyJobToken(token, { publicKeyJwk: signer.publicKeyJwk, builderId: "b2", jobId: "job-1" }))).toBe("wrong-builder/403");
      expect(await refusal(verifyJobToken(token, { publicKeyJwk: signer.publicKeyJwk, builderId: "b1", jobId: "job-2" }))).toBe("wrong-job/403");
      const other = await JobTokenSigner.generate(alg, 60);
      expect(await refusal(verifyJobToken(token, { publicKeyJwk: other.publicKeyJwk, builderId: "b1", jobId: "job-1" }))).toBe("invalid/401");
      const [h, p, s] = token.split(".");
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, "base64url").toString()), aud: "b2" })).toString("base64url")}.${s}`;
      expect(await refusal(verifyJobToken(tampered, { publicKeyJwk: signer.publicKeyJwk, builderId: "b2", jobId: "job-1" }))).toBe("invalid/401");
      const old = await signer.sign({ jobId: "job-1", builderId: "b1" }, Date.now() - 3_600_000);
      expect(await refusal(verifyJobToken(old.token, { publicKeyJwk: signer.publicKeyJwk, builderId: "b1", jobId: "job-1" }))).toBe("expired/401");
    });
  }

  it("never lives longer than ten minutes", async () => {
    const signer = await JobTokenSigner.generate("EdDSA", 86_400);
    const { expiresAt } = await signer.sign({ jobId: "j", builderId: "b" });
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(600_000);
  });
});

describe("access tokens", () => {
  it("static and JWT tokens open only their own role", async () => {
    const clientToken = generateStaticToken();
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const clients = new AccessVerifier("client", { tokens: [clientToken], jwt: { key: publicKey, algorithms: ["ES256"] } });
    const builders = new AccessVerifier("builder", { tokens: [generateStaticToken()], jwt: { key: publicKey, algorithms: ["ES256"] } });
    expect(await clients.verify(`Bearer ${clientToken}`)).toMatchObject({ ok: true, via: "static" });
    expect(await builders.verify(`Bearer ${clientToken}`)).toMatchObject({ ok: false, status: 401 });
    expect(await clients.verify(undefined)).toMatchObject({ ok: false });
    expect(await clients.verify(`Basic ${clientToken}`)).toMatchObject({ ok: false });

    const jwt = await signAccessToken({ role: "client", key: privateKey, alg: "ES256", subject: "alice", expiresInSeconds: 60 });
    expect(await clients.verify(`Bearer ${jwt}`)).toEqual({ ok: true, via: "jwt", subject: "alice" });
    expect(await builders.verify(`Bearer ${jwt}`)).toMatchObject({ ok: false, status: 401 });
    const expired = await signAccessToken({ role: "client", key: privateKey, alg: "ES256", expiresInSeconds: -3600 });
    expect(await clients.verify(`Bearer ${expired}`)).toMatchObject({ ok: false, reason: expect.stringContaining("exp") });
    const forger = await generateKeyPair("ES256");
    const forged = await signAccessToken({ role: "client", key: forger.privateKey, alg: "ES256", expiresInSeconds: 60 });
    expect(await clients.verify(`Bearer ${forged}`)).toMatchObject({ ok: false, status: 401 });
  });
});

describe("HS256 job tokens (a key per builder, derived on both sides)", () => {
  const builderToken = "builder-token-".padEnd(43, "x");
  const refusal = (p: Promise<unknown>) => p.then(() => "accepted", (e: JobTokenError) => `${e.refusal}/${e.status}`);

  it("only the builder whose derived key signed a token accepts it, and only for its job", async () => {
    const signer = await JobTokenSigner.generate("HS256", 60);
    expect(signer.publicKeyJwk).toBeUndefined();
    const g1 = signer.keyForBuilder("b1", builderToken);
    const g2 = signer.keyForBuilder("b2", builderToken);
    expect(g1).toEqual({ jobTokenAlg: "HS256", jobTokenSalt: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const k1 = jobTokenKeyOf(g1, builderToken, "b1");
    const k2 = jobTokenKeyOf(g2, builderToken, "b2");
    const { token } = signer.sign({ jobId: "j1", builderId: "b1", toolchainId: "tc" });
    expect(await verifyJobToken(token, { key: k1, builderId: "b1", jobId: "j1" })).toMatchObject({ jobId: "j1", toolchainId: "tc" });
    // Replayed at b2 (same builder token, its own salt and id): b2's key does not verify it.
    expect(await refusal(verifyJobToken(token, { key: k2, builderId: "b2", jobId: "j1" }))).toBe("invalid/401");
    expect(await refusal(verifyJobToken(token, { key: k1, builderId: "b1", jobId: "j2" }))).toBe("wrong-job/403");
    // The same salt with b2's id, or with another builder token, is another key.
    expect(await refusal(verifyJobToken(token, { key: jobTokenKeyOf(g1, builderToken, "b2"), builderId: "b1", jobId: "j1" }))).toBe("invalid/401");
    expect(await refusal(verifyJobToken(token, { key: jobTokenKeyOf(g1, `${builderToken}y`, "b1"), builderId: "b1", jobId: "j1" }))).toBe("invalid/401");
    const old = signer.sign({ jobId: "j1", builderId: "b1" }, Date.now() - 3_600_000);
    expect(await refusal(verifyJobToken(old.token, { key: k1, builderId: "b1", jobId: "j1" }))).toBe("expired/401");
    // A new registration renews the salt: tokens of the old key are refused.
    const renewed = jobTokenKeyOf(signer.keyForBuilder("b1", builderToken), builderToken, "b1");
    expect(await refusal(verifyJobToken(token, { key: renewed, builderId: "b1", jobId: "j1" }))).toBe("invalid/401");
    signer.forgetBuilder("b1");
    expect(() => signer.sign({ jobId: "j3", builderId: "b1" })).toThrow(/no job-token key/);
    expect(() => signer.keyForBuilder("b3")).toThrow(/bearer token/);
  });

  it("a builder remembers a token it verified for its job's later requests, never past the token's expiry nor for another job", async () => {
    const signer = await JobTokenSigner.generate("HS256", 60);
    const builderToken = "builder-secret-token-for-remembering";
    const verifier = JobTokenVerifier.create(signer.keyForBuilder("b1", builderToken), builderToken, "b1");
    const { token, expiresAt } = signer.sign({ jobId: "j1", builderId: "b1", toolchainId: "tc" });
    expect(verifier.verify(token, "j1")).toEqual({ ok: true, toolchainId: "tc" });
    expect(verifier.verify(token, "j1"), "the upload after the run").toEqual({ ok: true, toolchainId: "tc" });
    expect(verifier.verify(token, "j2")).toMatchObject({ ok: false, status: 403 });
    const [h, p, sig] = token.split(".");
    expect(verifier.verify(`${h}.${p}.${sig!.slice(0, -2)}AA`, "j1"), "a token differing from a remembered one is verified in full").toMatchObject({ ok: false, status: 401 });
    vi.useFakeTimers({ now: expiresAt + 60_000 });
    try {
      expect(verifier.verify(token, "j1"), "expired, though remembered").toMatchObject({ ok: false, status: 401, reason: expect.stringMatching(/expired/) });
    } finally {
      vi.useRealTimers();
    }
  });

  it("after a re-registration (a new key) a builder still takes the tokens signed with its previous key until they expire, never older ones", async () => {
    const builderToken = "builder-secret-token-for-re-registering";
    const first = await JobTokenSigner.generate("HS256", 60);
    const v1 = JobTokenVerifier.create(first.keyForBuilder("b1", builderToken), builderToken, "b1");
    const inFlight = first.sign({ jobId: "j1", builderId: "b1" });
    const second = await JobTokenSigner.generate("HS256", 60);
    const v2 = JobTokenVerifier.create(second.keyForBuilder("b1", builderToken), builderToken, "b1", v1);
    expect(v2.verify(inFlight.token, "j1"), "a token issued before the re-registration").toEqual({ ok: true });
    expect(v2.verify(second.sign({ jobId: "j2", builderId: "b1" }).token, "j2")).toEqual({ ok: true });
    expect(v2.verify(inFlight.token, "j9"), "still for its own job only").toMatchObject({ ok: false, status: 403 });
    const third = await JobTokenSigner.generate("HS256", 60);
    const v3 = JobTokenVerifier.create(third.keyForBuilder("b1", builderToken), builderToken, "b1", v2);
    expect(v3.verify(inFlight.token, "j1"), "two registrations back").toMatchObject({ ok: false, status: 401 });
    const forged = await JobTokenSigner.generate("HS256", 60);
    forged.keyForBuilder("b1", "a-bearer-token-this-builder-never-had");
    expect(v2.verify(forged.sign({ jobId: "j1", builderId: "b1" }).token, "j1"), "a key it never had").toMatchObject({ ok: false, status: 401 });
    vi.useFakeTimers({ now: inFlight.expiresAt + 60_000 });
    try {
      expect(v2.verify(inFlight.token, "j1"), "expired").toMatchObject({ ok: false, status: 401 });
    } finally {
      vi.useRealTimers();
    }
  });

  it("the key decides the algorithm: an HS256 token is not checked against a public key, nor an ES256 one against a secret", async () => {
    const es = await JobTokenSigner.generate("ES256", 60);
    const hs = await JobTokenSigner.generate("HS256", 60);
    const secret = jobTokenKeyOf(hs.keyForBuilder("b1", builderToken), builderToken, "b1");
    const hsToken = hs.sign({ jobId: "j", builderId: "b1" }).token;
    const esToken = es.sign({ jobId: "j", builderId: "b1" }).token;
    const why = (p: Promise<unknown>) => p.then(() => "accepted", (e: JobTokenError) => e.refusal);
    expect(await why(verifyJobToken(hsToken, { publicKeyJwk: es.publicKeyJwk!, builderId: "b1", jobId: "j" }))).toBe("invalid");
    expect(await why(verifyJobToken(esToken, { key: secret, builderId: "b1", jobId: "j" }))).toBe("invalid");
    expect(await why(verifyJobToken(hsToken, { publicKeyJwk: { kty: "oct", k: secret.alg === "HS256" ? secret.secret.toString("base64url") : "", alg: "ES256" }, builderId: "b1", jobId: "j" }))).toBe("invalid");
    // An unsigned token ("alg": "none") proves nothing.
    const [, payload] = hsToken.split(".");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
    expect(await why(verifyJobToken(none, { key: secret, builderId: "b1", jobId: "j" }))).toBe("invalid");
  });
});
