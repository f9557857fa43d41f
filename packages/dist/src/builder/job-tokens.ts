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
    private readonly previous: JobTokenVerifier | undefined,
  ) {}

  /**
   * From the registration answer; with HS256 the key is derived from `builderToken`, the bearer token this builder
   * registered with. `previous`: the verifier of the registration this one replaces. A builder re-registers when
   * the scheduler lost it (a heartbeat late under load) and gets a new key, while the scheduler has already handed
   * out tokens signed with the old one for jobs on their way here: those stay valid until they expire (at most
   * MAX_JOB_TOKEN_TTL_SECONDS), as they would have without the re-registration. Only one generation back.
   */
  static create(grant: JobTokenGrant, builderToken: string, builderId: string, previous?: JobTokenVerifier): JobTokenVerifier {
    const before = previous ? new JobTokenVerifier(previous.key, previous.builderId, undefined) : undefined;
    return new JobTokenVerifier(jobTokenKeyOf(grant, builderToken, builderId), builderId, before?.builderId === builderId ? before : undefined);
  }

  /** 401 for a missing, forged or expired token; 403 for a valid one meant for another builder or job. */
  verify(token: string | undefined, jobId: string): TokenCheck {
    if (!token) return { ok: false, status: 401, reason: "no job token" };
    const known = this.verified.get(token);
    if (known && known.jobId === jobId && Date.now() < known.expiresAt) return known.toolchainId ? { ok: true, toolchainId: known.toolchainId } : { ok: true };
    try {
      const claims = this.check(token, jobId);
      this.verified.set(token, claims);
      return claims.toolchainId ? { ok: true, toolchainId: claims.toolchainId } : { ok: true };
    } catch (err) {
      if (err instanceof JobTokenError) return { ok: false, status: err.status, reason: err.message };
      throw err;
    }
  }

  /** The token's claims under this key, else under the previous registration's (its signature is not this key's). */
  private check(token: string, jobId: string): JobTokenClaims {
    try {
      return checkJobToken(token, { key: this.key, builderId: this.builderId, jobId });
    } catch (err) {
      if (!(err instanceof JobTokenError) || err.refusal !== "invalid" || !this.previous) throw err;
      try {
        return this.previous.check(token, jobId);
      } catch (earlier) {
        // Signed with the previous key but refused (expired, another job): that refusal says more than "invalid".
        throw earlier instanceof JobTokenError && earlier.refusal !== "invalid" ? earlier : err;
      }
    }
  }
}
