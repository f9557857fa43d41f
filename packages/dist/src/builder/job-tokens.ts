/** The builder's check of job tokens, with the key its registration gave it (see auth/job-token.ts). */
import { LRUCache } from "lru-cache";
import { checkJobToken, JobTokenError, jobTokenKeyOf, type JobTokenClaims, type JobTokenGrant, type JobTokenKey } from "../auth/job-token.js";

/** Tokens remembered as valid: a job's token comes with its run and with each of its uploads. */
const REMEMBERED_TOKENS = 4096;

/** A valid token, with the toolchain it was allocated for when the scheduler named one (`tid`). */
export type TokenCheck = { ok: true; toolchainId?: string } | { ok: false; status: 401 | 403; reason: string };

export class JobTokenVerifier {
  /** Tokens this key verified, by their exact text: a later request with the same token is checked against its claims and expiry only. */
  private readonly verified = new LRUCache<string, JobTokenClaims>({ max: REMEMBERED_TOKENS });

  private constructor(
    private readonly key: JobTokenKey,
    private readonly builderId: string,
  ) {}

  /** From the registration answer; with HS256 the key is derived from `builderToken`, the bearer token this builder registered with. */
  static create(grant: JobTokenGrant, builderToken: string, builderId: string): JobTokenVerifier {
    return new JobTokenVerifier(jobTokenKeyOf(grant, builderToken, builderId), builderId);
  }

  /** 401 for a missing, forged or expired token; 403 for a valid one meant for another builder or job. */
  verify(token: string | undefined, jobId: string): TokenCheck {
    if (!token) return { ok: false, status: 401, reason: "no job token" };
    const known = this.verified.get(token);
    if (known && known.jobId === jobId && Date.now() < known.expiresAt) return known.toolchainId ? { ok: true, toolchainId: known.toolchainId } : { ok: true };
    try {
      const claims = checkJobToken(token, { key: this.key, builderId: this.builderId, jobId });
      this.verified.set(token, claims);
      return claims.toolchainId ? { ok: true, toolchainId: claims.toolchainId } : { ok: true };
    } catch (err) {
      if (err instanceof JobTokenError) return { ok: false, status: err.status, reason: err.message };
      throw err;
    }
  }
}
