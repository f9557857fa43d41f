/** The body of `POST /v1/jobs/{jobId}/run` (docs/dist-protocol.md); its answer is protocol/job-result.ts. */
import { z } from "zod";
import type { CompileJob, JobLimits } from "@reprise/core";

const DIGEST = z.string().regex(/^[0-9a-f]{64}$/, "a digest is 64 hex digits");
/** A `.` or `..` component (tested without splitting: a job names a few hundred paths). */
export const DOT_COMPONENT = /(?:^|\/)\.\.?(?:\/|$)/;
const ABSOLUTE = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith("/") && !p.includes("\0") && !DOT_COMPONENT.test(p), "an absolute path without . or .. components");

export const WireLimitsSchema = z
  .object({
    timeoutMs: z.number().int().positive(),
    maxOutputBytes: z.number().int().positive(),
    memoryBytes: z.number().int().positive().optional(),
    maxProcesses: z.number().int().positive().optional(),
  })
  .strict();

export const WireJobSchema = z
  .object({
    argv: z.array(z.string().max(1 << 16)).min(1).max(1 << 16),
    cwd: ABSOLUTE,
    env: z.record(z.string(), z.string()),
    inputs: z
      .array(z.object({ path: ABSOLUTE, digest: DIGEST, size: z.number().int().nonnegative(), mode: z.number().int().min(0).max(0o7777) }).strict())
      .max(200_000),
    outputs: z.array(z.object({ role: z.string().min(1).max(200), path: ABSOLUTE, optional: z.boolean().optional() }).strict()).min(1).max(64),
    directories: z.array(ABSOLUTE).max(10_000).optional(),
    links: z.array(z.object({ path: ABSOLUTE, target: ABSOLUTE }).strict()).max(16).optional(),
    limits: WireLimitsSchema,
  })
  .strict();

/** An archive's digest, or a descriptor the builder provides itself (`rustc:…`). */
const TOOLCHAIN_ID = z.string().regex(/^[A-Za-z0-9._:-]{1,256}$/, "a toolchain id is 1-256 characters of A-Za-z0-9._:-");
export const RunRequestSchema = z.object({ toolchainId: TOOLCHAIN_ID, job: WireJobSchema }).strict();
export type RunRequest = z.infer<typeof RunRequestSchema>;
export type WireJob = z.infer<typeof WireJobSchema>;

export interface MissingResponse {
  error: { code: "missing"; message: string };
  missing: { toolchain: boolean; blobs: string[] };
}

/** A core job as it travels (inputs by digest and mode). */
export function jobToWire(job: CompileJob): WireJob {
  return {
    argv: job.argv,
    cwd: job.cwd,
    env: job.env,
    inputs: job.inputs.map((i) => ({ path: i.path, digest: i.hash, size: i.size, mode: i.executable ? 0o755 : 0o644 })),
    outputs: job.outputs.map((o) => ({ role: o.role, path: o.path, ...(o.optional ? { optional: true } : {}) })),
    ...(job.directories?.length ? { directories: job.directories } : {}),
    ...(job.links?.length ? { links: job.links } : {}),
    limits: job.limits,
  };
}

/** The core job a builder runs: the client's limits, each capped by the builder's own. */
export function jobFromWire(toolchainId: string, wire: WireJob, caps: JobLimits): CompileJob {
  const cap = (asked: number | undefined, max: number | undefined) => (max === undefined ? asked : asked === undefined ? max : Math.min(asked, max));
  const limits: JobLimits = {
    timeoutMs: Math.min(wire.limits.timeoutMs, caps.timeoutMs),
    maxOutputBytes: Math.min(wire.limits.maxOutputBytes, caps.maxOutputBytes),
  };
  const memoryBytes = cap(wire.limits.memoryBytes, caps.memoryBytes);
  const maxProcesses = cap(wire.limits.maxProcesses, caps.maxProcesses);
  if (memoryBytes !== undefined) limits.memoryBytes = memoryBytes;
  if (maxProcesses !== undefined) limits.maxProcesses = maxProcesses;
  return {
    toolchainId,
    argv: wire.argv,
    cwd: wire.cwd,
    env: wire.env,
    inputs: wire.inputs.map((i) => ({ path: i.path, hash: i.digest, size: i.size, ...(i.mode & 0o111 ? { executable: true } : {}) })),
    outputs: wire.outputs,
    ...(wire.directories ? { directories: wire.directories } : {}),
    ...(wire.links ? { links: wire.links } : {}),
    limits,
  };
}
