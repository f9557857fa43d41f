/**
 * Job tokens: the scheduler signs one per allocation; only the chosen builder
 * accepts it, for that job only, for at most ten minutes. `sub` is the job id,
 * `aud` the builder id. Builders verify with the key (JWK) they received at
 * registration — the scheduler's public key, or with HS256 their own secret —
 * with no call back to the scheduler per job.
 */
import { randomBytes, webcrypto } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, errors as joseErrors, type JWK, type CryptoKey } from "jose";
import { MAX_JOB_TOKEN_TTL_SECONDS } from "../protocol/common.js";

export type JobTokenAlg = "EdDSA" | "ES256" | "HS256";
export const JOB_TOKEN_ALGS: readonly JobTokenAlg[] = ["ES256", "EdDSA", "HS256"];
export const JOB_TOKEN_ISSUER = "reprise-dist-scheduler";

export interface JobTokenClaims {
  jobId: string;
  builderId: string;
  /** The toolchain the job was allocated for. */
  toolchainId?: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export type JobTokenRefusal = "expired" | "wrong-builder" | "wrong-job" | "invalid";

/** Why a builder refuses a job token; `status` is the HTTP status to answer with. */
export class JobTokenError extends Error {
  readonly code = "E_JOB_TOKEN";
  constructor(
    readonly refusal: JobTokenRefusal,
    message: string,
  ) {
    super(`job token refused (${refusal}): ${message}`);
    this.name = "JobTokenError";
  }
  /** 401 for a token that proves nothing (forged, malformed, expired); 403 for a valid one presented at the wrong place. */
  get status(): 401 | 403 {
    return this.refusal === "wrong-builder" || this.refusal === "wrong-job" ? 403 : 401;
  }
}

interface SigningKey {
  key: CryptoKey;
  /** What builders verify with: the public half, or (HS256) the builder's own secret as an `oct` JWK. */
  verificationJwk: JWK;
}

/**
 * The scheduler's side: signs job tokens. EdDSA and ES256 use one key pair
 * whose public half every builder gets. HS256 gives each builder its own
 * secret at registration (a new one each time): only that builder can check
 * its tokens, so `aud` binding holds, and a MAC costs a fraction of a
 * signature; the secret travels in the registration answer, so use it only
 * over TLS or a trusted network.
 */
export class JobTokenSigner {
  private readonly builderKeys = new Map<string, SigningKey>();

  private constructor(
    readonly alg: JobTokenAlg,
    private readonly ttlSeconds: number,
    private readonly shared?: SigningKey,
  ) {}

  /** A fresh key pair (the default: tokens die with the scheduler, builders re-register and get the new key). */
  static async generate(alg: JobTokenAlg, ttlSeconds = 300): Promise<JobTokenSigner> {
    if (alg === "HS256") return new JobTokenSigner(alg, clampTtl(ttlSeconds));
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    return new JobTokenSigner(alg, clampTtl(ttlSeconds), { key: privateKey, verificationJwk: publicJwk(await exportJWK(publicKey), alg) });
  }

  /** From a private JWK (config `jobTokens.privateKeyFile`), so tokens survive a scheduler restart. */
  static async fromPrivateJwk(jwk: JWK, alg: JobTokenAlg, ttlSeconds = 300): Promise<JobTokenSigner> {
    if (alg === "HS256") throw new Error("HS256 job tokens use a secret per builder, made at registration: they take no key file");
    if (!jwk.d) throw new Error("the job-token key is not a private key (no \"d\" member)");
    const privateKey = (await importJWK(jwk, alg)) as CryptoKey;
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
    return new JobTokenSigner(alg, clampTtl(ttlSeconds), { key: privateKey, verificationJwk: publicJwk(pub, alg) });
  }

  /** The scheduler's public key (EdDSA, ES256); undefined with per-builder secrets. */
  get publicKeyJwk(): JWK | undefined {
    return this.shared?.verificationJwk;
  }

  get ttlMs(): number {
    return this.ttlSeconds * 1000;
  }

  /** The key `builderId` verifies its job tokens with; with HS256 a new secret, replacing the builder's previous one. */
  async keyForBuilder(builderId: string): Promise<JWK> {
    if (this.shared) return { ...this.shared.verificationJwk };
    const secret = randomBytes(32);
    const key = await webcrypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const verificationJwk: JWK = { kty: "oct", k: secret.toString("base64url"), alg: "HS256", use: "sig" };
    this.builderKeys.set(builderId, { key: key as CryptoKey, verificationJwk });
    return { ...verificationJwk };
  }

  /** Drops a builder's secret (it was dropped or replaced). */
  forgetBuilder(builderId: string): void {
    this.builderKeys.delete(builderId);
  }

  async sign(claims: { jobId: string; builderId: string; toolchainId?: string }, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
    const signing = this.shared ?? this.builderKeys.get(claims.builderId);
    if (!signing) throw new Error(`no job-token key for builder ${claims.builderId}`);
    const iat = Math.floor(now / 1000);
    const exp = iat + this.ttlSeconds;
    const payload = claims.toolchainId ? { tid: claims.toolchainId } : {};
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: this.alg, typ: "JWT" })
      .setIssuer(JOB_TOKEN_ISSUER)
      .setSubject(claims.jobId)
      .setAudience(claims.builderId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(signing.key);
    return { token, expiresAt: exp * 1000 };
  }
}

function clampTtl(ttlSeconds: number): number {
  return Math.max(1, Math.min(MAX_JOB_TOKEN_TTL_SECONDS, Math.floor(ttlSeconds)));
}

function publicJwk(jwk: JWK, alg: JobTokenAlg): JWK {
  return { ...jwk, alg, use: "sig" };
}

const importedKeys = new Map<string, Promise<CryptoKey>>();

function verificationKey(jwk: JWK, alg: string): Promise<CryptoKey> {
  const cacheKey = `${alg}:${jwk.kty}:${jwk.crv ?? ""}:${jwk.x ?? ""}:${jwk.y ?? ""}:${jwk.k ?? ""}`;
  let key = importedKeys.get(cacheKey);
  if (!key) {
    key = importJWK(jwk, alg) as Promise<CryptoKey>;
    if (importedKeys.size > 64) importedKeys.clear();
    importedKeys.set(cacheKey, key);
    key.catch(() => importedKeys.delete(cacheKey));
  }
  return key;
}

/**
 * The builder's check of a job token: signed by the scheduler's key, not
 * expired, issued for this builder (`aud`) and for the job in the URL (`sub`).
 * Throws `JobTokenError`; its `status` is the HTTP answer (401 or 403).
 */
export async function verifyJobToken(
  token: string,
  expected: { publicKeyJwk: JWK; builderId: string; jobId: string; alg?: JobTokenAlg; clockToleranceSeconds?: number },
): Promise<JobTokenClaims> {
  const alg = expected.alg ?? (expected.publicKeyJwk.alg as JobTokenAlg | undefined);
  if (alg === undefined || !JOB_TOKEN_ALGS.includes(alg)) throw new JobTokenError("invalid", "the scheduler key names no supported algorithm (ES256, EdDSA or HS256)");
  // The key decides the algorithm, never the token's header: an HS256 token is checked only against a builder's own secret.
  if ((alg === "HS256") !== (expected.publicKeyJwk.kty === "oct")) throw new JobTokenError("invalid", `a ${expected.publicKeyJwk.kty} key cannot verify ${alg} tokens`);
  let payload;
  try {
    const key = await verificationKey(expected.publicKeyJwk, alg);
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [alg],
      issuer: JOB_TOKEN_ISSUER,
      clockTolerance: expected.clockToleranceSeconds ?? 5,
      requiredClaims: ["sub", "aud", "exp"],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new JobTokenError("expired", "the token has expired; ask the scheduler for a new job");
    throw new JobTokenError("invalid", error instanceof Error ? error.message : String(error));
  }
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (audiences.length !== 1 || audiences[0] !== expected.builderId) {
    throw new JobTokenError("wrong-builder", `issued for builder ${JSON.stringify(audiences.join(","))}, this is ${JSON.stringify(expected.builderId)}`);
  }
  if (payload.sub !== expected.jobId) {
    throw new JobTokenError("wrong-job", `issued for job ${JSON.stringify(payload.sub)}, not ${JSON.stringify(expected.jobId)}`);
  }
  const toolchainId = typeof payload.tid === "string" ? payload.tid : undefined;
  return { jobId: payload.sub, builderId: expected.builderId, toolchainId, expiresAt: (payload.exp ?? 0) * 1000 };
}
