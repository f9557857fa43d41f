/** The builder's check of job tokens, with the scheduler key it received at registration (see auth/job-token.ts). */
import type { JWK } from "jose";
import { JobTokenError, verifyJobToken, type JobTokenAlg } from "../auth/job-token.js";

/** A valid token, with the toolchain it was allocated for when the scheduler named one (`tid`). */
export type TokenCheck = { ok: true; toolchainId?: string } | { ok: false; status: 401 | 403; reason: string };

export class JobTokenVerifier {
  private constructor(
    private readonly jwk: JWK,
    private readonly alg: JobTokenAlg,
    private readonly builderId: string,
  ) {}

  static async create(jwk: JWK, alg: string, builderId: string): Promise<JobTokenVerifier> {
    return new JobTokenVerifier(jwk, alg as JobTokenAlg, builderId);
  }

  /** 401 for a missing, forged or expired token; 403 for a valid one meant for another builder or job. */
  async verify(token: string | undefined, jobId: string): Promise<TokenCheck> {
    if (!token) return { ok: false, status: 401, reason: "no job token" };
    try {
      const claims = await verifyJobToken(token, { publicKeyJwk: this.jwk, alg: this.alg, builderId: this.builderId, jobId });
      return claims.toolchainId ? { ok: true, toolchainId: claims.toolchainId } : { ok: true };
    } catch (err) {
      if (err instanceof JobTokenError) return { ok: false, status: err.status, reason: err.message };
      throw err;
    }
  }
}
