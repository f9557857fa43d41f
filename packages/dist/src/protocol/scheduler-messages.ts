/** The scheduler's messages (docs/dist-protocol.md): builders register and heartbeat, clients allocate. */
import { z } from "zod";
import { IdSchema, PlatformSchema } from "./common.js";

const COUNT = z.number().int().min(0).max(1_000_000);
const BYTES = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const TOOLCHAINS = z.array(IdSchema).max(10_000);
/** Prefixes of descriptor ids a builder can provide on demand (`rustc:` for rustup): optional, added without a version bump. */
const INSTALLABLE = z.array(z.string().min(1).max(256).regex(/^[A-Za-z0-9._:-]+$/)).max(1000);
/** What a builder can finish besides compiling (`link:<target-triple>:<linker identity>`); a job's `requires` must all be in it. */
const CAPABILITIES = z.array(z.string().min(1).max(256).regex(/^[A-Za-z0-9._:+-]+$/)).max(1000);

/** A toolchain a builder holds of its own (its config's `toolchains`), for status and for equivalent jobs (docs/cross-arch.md). */
export const HeldToolchainSchema = z.object({
  /** The archive id of the builder's own packaging of it. */
  id: IdSchema,
  family: z.string().max(64),
  version: z.string().max(128),
  compilerPath: z.string().max(4096),
  /** Targets it compiles for, and the equivalence id it takes jobs under for each. */
  targets: z.array(z.object({ target: z.string().max(128), equivalence: IdSchema })).max(64),
});
export type HeldToolchain = z.infer<typeof HeldToolchainSchema>;
const HELD = z.array(HeldToolchainSchema).max(256);
/** Rust targets a builder holds or can install (filled in by Rust toolchain providers). */
const RUST_TARGETS = z.array(z.object({ target: z.string().max(128), held: z.boolean() })).max(1024);

/** `POST /v1/builders/register` (builder token). */
export const RegisterRequestSchema = z.object({
  builderId: IdSchema,
  /** Where clients reach the builder: http:// or https:// origin (and optional path prefix). */
  url: z.string().url().max(2048).refine((u) => /^https?:\/\//.test(u), "must be an http:// or https:// URL"),
  platform: PlatformSchema,
  cores: z.number().int().min(1).max(100_000),
  memoryBytes: BYTES,
  sandboxes: z.array(z.string().min(1).max(64)).max(32),
  toolchains: TOOLCHAINS,
  held: HELD.optional(),
  rustTargets: RUST_TARGETS.optional(),
  freeToolchainBytes: BYTES,
  version: z.string().max(64),
  maxJobs: z.number().int().min(1).max(100_000),
  installable: INSTALLABLE.optional(),
  capabilities: CAPABILITIES.optional(),
});
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

export const RegisterResponseSchema = z.object({
  heartbeatIntervalMs: z.number().int().positive(),
  jobTokenAlg: z.enum(["ES256", "EdDSA", "HS256"]),
  /** ES256, EdDSA: the scheduler's public key (JWK) this builder verifies job tokens with. */
  schedulerPublicKey: z.record(z.string(), z.unknown()).optional(),
  /** HS256: the salt (base64url) this builder derives its own key with, from the builder token it registered with (auth/job-token.ts). */
  jobTokenSalt: z.string().optional(),
});
export type RegisterResponse = z.infer<typeof RegisterResponseSchema>;

/** `POST /v1/builders/{builderId}/heartbeat` (builder token). 404 `unknown-builder`: register again. */
export const HeartbeatRequestSchema = z.object({
  runningJobs: COUNT,
  loadAvg1: z.number().min(0).max(1e6),
  toolchains: TOOLCHAINS,
  freeToolchainBytes: BYTES,
  acceptingJobs: z.boolean(),
  installable: INSTALLABLE.optional(),
  capabilities: CAPABILITIES.optional(),
  /** The jobs this builder has had a request for and not finished: an older allocation missing here was never claimed by its client. */
  jobIds: z.array(IdSchema).max(10_000).optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequestSchema>;

export const OkResponseSchema = z.object({ ok: z.literal(true) });
export type OkResponse = z.infer<typeof OkResponseSchema>;

/** `POST /v1/jobs/allocate` (client token). */
export const AllocateRequestSchema = z.object({
  toolchainId: IdSchema,
  /** Every host platform that can run the toolchain (core's `resolveArchitecture`). */
  platforms: z.array(PlatformSchema).min(1).max(64),
  /** A pool to use first when one of its builders is free. */
  preferPlatform: PlatformSchema.optional(),
  /** Equivalent toolchains: a builder of any pool holding one of these may take the job with it (docs/cross-arch.md). */
  equivalents: z.array(IdSchema).max(16).optional(),
  /** Other archives of an equivalent compiler the client can upload, each with the host platforms that can run it (declared toolchains). */
  alternatives: z.array(z.object({ toolchainId: IdSchema, platforms: z.array(PlatformSchema).min(1).max(64) })).max(16).optional(),
  /** How long to queue when every matching builder is busy (default 2000, capped by the scheduler). */
  maxWaitMs: z.number().int().min(0).max(600_000).optional(),
  /** Capabilities the builder must report (e.g. `link:<target-triple>` for a crate that links). */
  requires: CAPABILITIES.optional(),
});
export type AllocateRequest = z.infer<typeof AllocateRequestSchema>;

export const AllocateResponseSchema = z.object({
  jobId: IdSchema,
  builderId: IdSchema,
  builderUrl: z.string(),
  jobToken: z.string(),
  /** Epoch milliseconds after which the job token is refused. */
  expiresAt: z.number().int(),
  /** The toolchain the job must name: the requested one, or the equivalent the builder holds. Absent from older schedulers. */
  toolchainId: IdSchema.optional(),
});
export type AllocateResponse = z.infer<typeof AllocateResponseSchema>;

/** The most allocations one batch may ask for. */
export const MAX_ALLOCATE_BATCH = 64;

/**
 * `POST /v1/jobs/allocate-batch` (client token): several allocations in one
 * request, answered at once and in order; an entry no builder has room for
 * now gets `all-busy` (its client asks again alone, with waiting).
 */
export const AllocateBatchRequestSchema = z.object({
  requests: z.array(AllocateRequestSchema).min(1).max(MAX_ALLOCATE_BATCH),
});
export type AllocateBatchRequest = z.infer<typeof AllocateBatchRequestSchema>;

export const AllocateRefusalSchema = z.object({ error: z.object({ code: z.enum(["no-builder", "all-busy"]), message: z.string() }) });
export type AllocateRefusal = z.infer<typeof AllocateRefusalSchema>;

export const AllocateBatchResponseSchema = z.object({
  results: z.array(z.union([AllocateResponseSchema, AllocateRefusalSchema])).max(MAX_ALLOCATE_BATCH),
});
export type AllocateBatchResponse = z.infer<typeof AllocateBatchResponseSchema>;

/** `POST /v1/jobs/{jobId}/finished` (builder token). */
export const FinishedRequestSchema = z.object({
  ok: z.boolean(),
  durationMs: z.number().min(0).max(1e9),
});
export type FinishedRequest = z.infer<typeof FinishedRequestSchema>;

export const BuilderStatusSchema = z.object({
  builderId: z.string(),
  url: z.string(),
  cores: z.number(),
  maxJobs: z.number(),
  runningJobs: z.number(),
  acceptingJobs: z.boolean(),
  loadAvg1: z.number(),
  memoryBytes: z.number(),
  freeToolchainBytes: z.number(),
  sandboxes: z.array(z.string()),
  toolchains: z.array(z.string()),
  held: HELD.optional(),
  rustTargets: RUST_TARGETS.optional(),
  installable: z.array(z.string()).optional(),
  capabilities: z.array(z.string()).optional(),
  lastHeartbeatMsAgo: z.number(),
  version: z.string(),
});
export type BuilderStatus = z.infer<typeof BuilderStatusSchema>;

/** `GET /v1/status` (client token). */
export const StatusResponseSchema = z.object({
  version: z.string(),
  protocol: z.number(),
  pools: z.array(z.object({ platform: PlatformSchema, builders: z.array(BuilderStatusSchema) })),
  queuedRequests: z.number(),
  counters: z.record(z.string(), z.number()),
});
export type StatusResponse = z.infer<typeof StatusResponseSchema>;
