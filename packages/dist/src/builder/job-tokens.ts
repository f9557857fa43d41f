/** The builder's check of job tokens, with the key its registration gave it (see auth/job-token.ts). */
import { checkJobToken, JobTokenError, jobTokenKeyOf, type JobTokenGrant, type JobTokenKey } from "../auth/job-token.js";

/** A valid token, with the toolchain it was allocated for when the scheduler named one (`tid`). */
export type TokenCheck = { ok: true; toolchainId?: string } | { ok: false; status: 401 | 403; reason: string };

export class JobTokenVerifier {
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
    try {
      const claims = checkJobToken(token, { key: this.key, builderId: this.builderId, jobId });
      return claims.toolchainId ? { ok: true, toolchainId: claims.toolchainId } : { ok: true };
    } catch (err) {
      if (err instanceof JobTokenError) return { ok: false, status: err.status, reason: err.message };
      throw err;
    }
  }
}
