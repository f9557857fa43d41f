/** Verifies the job tokens the scheduler signs: `sub` the job, `aud` this builder, not expired. */
import { importJWK, jwtVerify, type JWK } from "jose";

/** A valid token, with the toolchain it was allocated for when the scheduler named one (`tid`). */
export type TokenCheck = { ok: true; toolchainId?: string } | { ok: false; status: 401 | 403; reason: string };

export class JobTokenVerifier {
  private constructor(
    private readonly key: Awaited<ReturnType<typeof importJWK>>,
    private readonly alg: string,
    private readonly builderId: string,
  ) {}

  static async create(jwk: JWK, alg: string, builderId: string): Promise<JobTokenVerifier> {
    return new JobTokenVerifier(await importJWK(jwk, alg), alg, builderId);
  }

  /** 401 for a missing, forged or expired token; 403 for a valid one meant for another builder or job. */
  /** `jobId` undefined (an upload that names no job): any job of this builder. */
  async verify(token: string | undefined, jobId: string | undefined): Promise<TokenCheck> {
    if (!token) return { ok: false, status: 401, reason: "no job token" };
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: [this.alg], requiredClaims: ["sub", "aud", "exp"] }));
    } catch (err) {
      return { ok: false, status: 401, reason: `job token refused: ${(err as Error).message}` };
    }
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!aud.includes(this.builderId)) return { ok: false, status: 403, reason: "the job token is for another builder" };
    if (jobId !== undefined && payload.sub !== jobId) return { ok: false, status: 403, reason: "the job token is for another job" };
    return typeof payload.tid === "string" ? { ok: true, toolchainId: payload.tid } : { ok: true };
  }
}
