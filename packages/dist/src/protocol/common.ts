/** What every farm message shares: the protocol version, its headers, platforms and the error body. */
import { z } from "zod";

/** Bumped on any incompatible change of a message's shape or meaning. */
export const DIST_PROTOCOL_VERSION = 4;
/** Request header naming the protocol version the sender speaks; any other value gets 400 `protocol-version`. */
export const PROTOCOL_HEADER = "x-reprise-dist-protocol";
/** Default limit of a JSON request body. */
export const DEFAULT_JSON_BODY_LIMIT = 8 * 1024 * 1024;
/** A job token never lives longer than this. */
export const MAX_JOB_TOKEN_TTL_SECONDS = 600;

/** Error codes a farm endpoint may return in `{error:{code,message}}`. */
export const ERROR_CODES = [
  "protocol-version",
  "bad-request",
  "unauthenticated",
  "forbidden",
  "not-found",
  "method-not-allowed",
  "unknown-builder",
  "unknown-job",
  "too-large",
  "no-builder",
  "all-busy",
  "missing",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

const NAME = z.string().min(1).max(64);

/** Core's `Platform` on the wire (normalise with `normalisePlatform` before comparing). */
export const PlatformSchema = z.object({
  arch: NAME,
  os: NAME,
  bits: z.union([z.literal(32), z.literal(64)]).optional(),
});

/** Identifiers that appear in URLs: builders, jobs, toolchains (content hashes, or issue 11's rustup descriptors). */
export const IdSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9._:-]+$/, "only letters, digits and . _ : -");

/** `GET /v1/health` of the scheduler (no auth). The builder's adds `platform`. */
export const HealthResponseSchema = z.object({
  ok: z.literal(true),
  version: z.string(),
  platform: PlatformSchema.optional(),
});
export type HealthResponse = z.infer<typeof HealthResponseSchema>;
