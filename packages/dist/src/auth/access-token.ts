/**
 * Who may talk to the scheduler: clients and builders present a bearer token,
 * either one of the configured static tokens of their role or a JWT signed
 * by the configured key whose `aud` names the role ("reprise-dist:client" or
 * "reprise-dist:builder"). A token of one role never opens the other's doors.
 */
import { createHash, randomBytes } from "node:crypto";
import { SignJWT, jwtVerify, type CryptoKey, type JWTVerifyOptions, type KeyObject } from "jose";

export type Role = "client" | "builder";
export const ROLE_AUDIENCE: Readonly<Record<Role, string>> = { client: "reprise-dist:client", builder: "reprise-dist:builder" };

export type VerificationKey = CryptoKey | KeyObject | Uint8Array;

export interface AccessPolicy {
  /** Static tokens accepted for this role. */
  tokens: readonly string[];
  /** JWTs signed by this key (public key, or HMAC secret) are accepted too. */
  jwt?: { key: VerificationKey; algorithms: string[]; issuer?: string };
}

export type AccessDecision =
  | { ok: true; via: "static" | "jwt"; subject?: string }
  | { ok: false; status: 401; reason: string };

/** Static tokens are kept as SHA-256 digests: comparing digests leaks nothing about a token's bytes. */
function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export class AccessVerifier {
  private readonly staticDigests: ReadonlySet<string>;
  private readonly jwtOptions?: JWTVerifyOptions;

  constructor(
    readonly role: Role,
    private readonly policy: AccessPolicy,
  ) {
    this.staticDigests = new Set(policy.tokens.map(digest));
    if (policy.jwt) {
      this.jwtOptions = { audience: ROLE_AUDIENCE[role], algorithms: policy.jwt.algorithms, issuer: policy.jwt.issuer, requiredClaims: ["exp"] };
    }
  }

  /** Whether anything at all can pass (a scheduler with no way in for a role refuses to start). */
  get configured(): boolean {
    return this.staticDigests.size > 0 || this.policy.jwt !== undefined;
  }

  /** Checks an `Authorization` header value. */
  async verify(authorization: string | undefined): Promise<AccessDecision> {
    const token = bearer(authorization);
    if (!token) return { ok: false, status: 401, reason: "no bearer token" };
    if (this.staticDigests.has(digest(token))) return { ok: true, via: "static" };
    if (this.policy.jwt && this.jwtOptions && looksLikeJwt(token)) {
      try {
        const { payload } = await jwtVerify(token, this.policy.jwt.key, this.jwtOptions);
        return { ok: true, via: "jwt", subject: payload.sub };
      } catch (error) {
        return { ok: false, status: 401, reason: `JWT refused: ${error instanceof Error ? error.message : String(error)}` };
      }
    }
    return { ok: false, status: 401, reason: `not a ${this.role} token this scheduler accepts` };
  }
}

export function bearer(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}

function looksLikeJwt(token: string): boolean {
  return token.split(".").length === 3;
}

/** A fresh static token (256 random bits, base64url). */
export function generateStaticToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Issues a client or builder JWT (for `reprise-dist token` and tests). */
export async function signAccessToken(options: {
  role: Role;
  key: CryptoKey | KeyObject | Uint8Array;
  alg: string;
  subject?: string;
  issuer?: string;
  expiresInSeconds: number;
}): Promise<string> {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: options.alg, typ: "JWT" })
    .setAudience(ROLE_AUDIENCE[options.role])
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.expiresInSeconds);
  if (options.subject) jwt = jwt.setSubject(options.subject);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  return jwt.sign(options.key);
}
