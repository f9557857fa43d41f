/**
 * Job tokens: the scheduler signs one per allocation; only the chosen builder
 * accepts it, for that job only, for at most ten minutes. `sub` is the job id,
 * `aud` the builder id, `tid` the toolchain.
 *
 * HS256 (the default): each builder's key is derived on both sides (HKDF) from
 * the builder token it registered with, a fresh salt the scheduler sends in
 * the registration answer, and the builder id, so no key crosses the wire and
 * only that builder can check (or mint) its tokens. ES256 and EdDSA: one key
 * pair, whose public half every builder receives.
 *
 * Signed and verified with fast-jwt over node:crypto, synchronously: jose
 * signs through WebCrypto, whose asynchronous calls cost a scheduler ~70 µs of
 * CPU per token even with a MAC (docs/dist-design.md, "Measured").
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from "node:crypto";
import { createSigner, createVerifier, TokenError } from "fast-jwt";
import type { JWK } from "jose";
import { MAX_JOB_TOKEN_TTL_SECONDS } from "../protocol/common.js";

export type JobTokenAlg = "EdDSA" | "ES256" | "HS256";
export const JOB_TOKEN_ALGS: readonly JobTokenAlg[] = ["HS256", "ES256", "EdDSA"];
export const JOB_TOKEN_ISSUER = "reprise-dist-scheduler";
const DERIVATION_INFO = "reprise-dist job-token key v2";

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

/** What the registration answer tells a builder about its job tokens (docs/dist-protocol.md). */
export interface JobTokenGrant {
  jobTokenAlg: JobTokenAlg;
  /** ES256, EdDSA: the scheduler's public key. */
  schedulerPublicKey?: JWK;
  /** HS256: the salt (base64url) the builder derives its key with. */
  jobTokenSalt?: string;
}

/** What a builder verifies its job tokens with. */
export type JobTokenKey = { alg: "ES256" | "EdDSA"; publicKeyJwk: JWK } | { alg: "HS256"; secret: Buffer };

/** A builder's HS256 key: HKDF-SHA256 of the builder token it registered with, salted by the scheduler, bound to its id. */
export function deriveJobTokenSecret(builderToken: string, salt: string, builderId: string): Buffer {
  return Buffer.from(hkdfSync("sha256", builderToken, Buffer.from(salt, "base64url"), `${DERIVATION_INFO}\0${builderId}`, 32));
}

/** The builder's key from its registration answer; throws on an answer that names no usable key. */
export function jobTokenKeyOf(grant: JobTokenGrant, builderToken: string, builderId: string): JobTokenKey {
  if (grant.jobTokenAlg === "HS256") {
    if (typeof grant.jobTokenSalt !== "string" || grant.jobTokenSalt.length < 16) throw new Error("the registration answer names HS256 job tokens but no salt");
    return { alg: "HS256", secret: deriveJobTokenSecret(builderToken, grant.jobTokenSalt, builderId) };
  }
  if (!grant.schedulerPublicKey || typeof grant.schedulerPublicKey !== "object") throw new Error(`the registration answer names ${grant.jobTokenAlg} job tokens but no public key`);
  return { alg: grant.jobTokenAlg, publicKeyJwk: grant.schedulerPublicKey };
}

type Sign = (payload: Record<string, unknown>) => string;

function signerFor(key: Buffer | KeyObject, alg: JobTokenAlg): Sign {
  const pem = Buffer.isBuffer(key) ? key : key.export({ format: "pem", type: "pkcs8" });
  return createSigner({ key: pem, algorithm: alg }) as Sign;
}

/** The scheduler's side: signs job tokens. */
export class JobTokenSigner {
  private readonly builderSigners = new Map<string, Sign>();

  private constructor(
    readonly alg: JobTokenAlg,
    private readonly ttlSeconds: number,
    private readonly shared?: { sign: Sign; publicJwk: JWK },
  ) {}

  /** A fresh key pair, or with HS256 none (keys are derived per builder); tokens die with the scheduler, builders re-register. */
  static async generate(alg: JobTokenAlg, ttlSeconds = 300): Promise<JobTokenSigner> {
    if (alg === "HS256") return new JobTokenSigner(alg, clampTtl(ttlSeconds));
    const { privateKey, publicKey } = alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("ed25519");
    return new JobTokenSigner(alg, clampTtl(ttlSeconds), { sign: signerFor(privateKey, alg), publicJwk: publicJwk(publicKey.export({ format: "jwk" }) as JWK, alg) });
  }

  /** From a private JWK (config `jobTokens.privateKeyFile`), so tokens survive a scheduler restart. */
  static async fromPrivateJwk(jwk: JWK, alg: JobTokenAlg, ttlSeconds = 300): Promise<JobTokenSigner> {
    if (alg === "HS256") throw new Error("HS256 job tokens use a key per builder, derived at registration: they take no key file");
    if (!jwk.d) throw new Error('the job-token key is not a private key (no "d" member)');
    const privateKey = createPrivateKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
    return new JobTokenSigner(alg, clampTtl(ttlSeconds), { sign: signerFor(privateKey, alg), publicJwk: publicJwk(pub, alg) });
  }

  /** The scheduler's public key (EdDSA, ES256); undefined with per-builder keys. */
  get publicKeyJwk(): JWK | undefined {
    return this.shared?.publicJwk;
  }

  get ttlMs(): number {
    return this.ttlSeconds * 1000;
  }

  /**
   * What `builderId` is told at registration. With HS256 a new salt, so a new
   * key (replacing its previous one), derived from `builderToken`: the bearer
   * token the builder registered with.
   */
  keyForBuilder(builderId: string, builderToken?: string): JobTokenGrant {
    if (this.shared) return { jobTokenAlg: this.alg, schedulerPublicKey: { ...this.shared.publicJwk } };
    if (!builderToken) throw new Error(`builder ${builderId} registered without a bearer token to derive its job-token key from`);
    const salt = randomBytes(32).toString("base64url");
    this.builderSigners.set(builderId, signerFor(deriveJobTokenSecret(builderToken, salt, builderId), "HS256"));
    return { jobTokenAlg: "HS256", jobTokenSalt: salt };
  }

  /** Drops a builder's key (it was dropped or replaced). */
  forgetBuilder(builderId: string): void {
    this.builderSigners.delete(builderId);
  }

  sign(claims: { jobId: string; builderId: string; toolchainId?: string }, now = Date.now()): { token: string; expiresAt: number } {
    const sign = this.shared?.sign ?? this.builderSigners.get(claims.builderId);
    if (!sign) throw new Error(`no job-token key for builder ${claims.builderId}`);
    const iat = Math.floor(now / 1000);
    const exp = iat + this.ttlSeconds;
    const payload: Record<string, unknown> = { iss: JOB_TOKEN_ISSUER, sub: claims.jobId, aud: claims.builderId, iat, exp };
    if (claims.toolchainId) payload.tid = claims.toolchainId;
    return { token: sign(payload), expiresAt: exp * 1000 };
  }
}

function clampTtl(ttlSeconds: number): number {
  return Math.max(1, Math.min(MAX_JOB_TOKEN_TTL_SECONDS, Math.floor(ttlSeconds)));
}

function publicJwk(jwk: JWK, alg: JobTokenAlg): JWK {
  return { ...jwk, alg, use: "sig" };
}

type Verify = (token: string) => Record<string, unknown>;
const verifiers = new Map<string, Verify>();

/** One verifier per key (building one parses the key). */
function verifierFor(key: JobTokenKey, clockToleranceSeconds: number): Verify {
  const material = key.alg === "HS256" ? key.secret.toString("base64url") : `${key.publicKeyJwk.kty}:${key.publicKeyJwk.crv ?? ""}:${key.publicKeyJwk.x ?? ""}:${key.publicKeyJwk.y ?? ""}`;
  const cacheKey = `${key.alg}:${material}:${clockToleranceSeconds}`;
  let verify = verifiers.get(cacheKey);
  if (!verify) {
    let keyBytes: Buffer | string;
    if (key.alg === "HS256") keyBytes = key.secret;
    else {
      // The key decides the algorithm, never the token's header.
      const expectedKty = key.alg === "ES256" ? "EC" : "OKP";
      if (key.publicKeyJwk.kty !== expectedKty) throw new JobTokenError("invalid", `a ${key.publicKeyJwk.kty} key cannot verify ${key.alg} tokens`);
      const { alg: _a, use: _u, key_ops: _k, ...jwk } = key.publicKeyJwk;
      keyBytes = createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" }).export({ format: "pem", type: "spki" }) as string;
    }
    verify = createVerifier({ key: keyBytes, algorithms: [key.alg], allowedIss: JOB_TOKEN_ISSUER, requiredClaims: ["sub", "aud", "exp"], clockTolerance: clockToleranceSeconds * 1000, cache: false }) as Verify;
    if (verifiers.size > 64) verifiers.clear();
    verifiers.set(cacheKey, verify);
  }
  return verify;
}

/** A key as the tests and older callers give it: a JWK (an `oct` one is an HS256 secret). */
function keyFromJwk(jwk: JWK, alg?: JobTokenAlg): JobTokenKey {
  const named = alg ?? (jwk.alg as JobTokenAlg | undefined);
  if (named === undefined || !JOB_TOKEN_ALGS.includes(named)) throw new JobTokenError("invalid", "the scheduler key names no supported algorithm (HS256, ES256 or EdDSA)");
  if ((named === "HS256") !== (jwk.kty === "oct")) throw new JobTokenError("invalid", `a ${jwk.kty} key cannot verify ${named} tokens`);
  if (named === "HS256") return { alg: "HS256", secret: Buffer.from(jwk.k ?? "", "base64url") };
  return { alg: named, publicKeyJwk: jwk };
}

/**
 * The builder's check of a job token: signed with its key, not expired,
 * issued for this builder (`aud`) and for the job in the URL (`sub`).
 * Throws `JobTokenError`; its `status` is the HTTP answer (401 or 403).
 */
export async function verifyJobToken(
  token: string,
  expected: { key?: JobTokenKey; publicKeyJwk?: JWK; builderId: string; jobId: string; alg?: JobTokenAlg; clockToleranceSeconds?: number },
): Promise<JobTokenClaims> {
  return checkJobToken(token, expected);
}

/** `verifyJobToken` without the promise (the builder's per-request path). */
export function checkJobToken(
  token: string,
  expected: { key?: JobTokenKey; publicKeyJwk?: JWK; builderId: string; jobId: string; alg?: JobTokenAlg; clockToleranceSeconds?: number },
): JobTokenClaims {
  const key = expected.key ?? (expected.publicKeyJwk ? keyFromJwk(expected.publicKeyJwk, expected.alg) : undefined);
  if (!key) throw new JobTokenError("invalid", "no key to verify job tokens with");
  let payload: Record<string, unknown>;
  try {
    payload = verifierFor(key, expected.clockToleranceSeconds ?? 5)(token);
  } catch (error) {
    if (error instanceof JobTokenError) throw error;
    if (error instanceof TokenError && error.code === TokenError.codes.expired) throw new JobTokenError("expired", "the token has expired; ask the scheduler for a new job");
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
  return { jobId: expected.jobId, builderId: expected.builderId, toolchainId, expiresAt: (typeof payload.exp === "number" ? payload.exp : 0) * 1000 };
}
