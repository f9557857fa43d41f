/** Checks a builder's answer before anything of it is used: garbage never reaches the build or the cache. */
import { z } from "zod";
import { hashBytes, type CompileJob } from "@reprise/core";
import { FarmRequestError } from "../http/client.js";

const RunResponseSchema = z.object({
  exitCode: z.number().int().min(0).max(255),
  stdout: z.string(),
  stderr: z.string(),
  outputs: z.array(z.object({ role: z.string(), path: z.string(), digest: z.string(), size: z.number().int().nonnegative(), data: z.string() })),
  timings: z.object({ queuedMs: z.number().optional(), runMs: z.number().optional(), totalMs: z.number().optional() }).passthrough().optional(),
});

export interface CheckedRun {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  outputs: Map<string, Buffer>;
  runMs?: number;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decode(text: string, what: string): Buffer {
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw new FarmRequestError("garbage", `the builder's ${what} is not base64`);
  return Buffer.from(text, "base64");
}

/**
 * An output is checked by its size and digest after decoding, which no
 * garbage passes: scanning a megabyte of base64 with a pattern first would
 * cost the client more CPU than the rest of the job's answer.
 */
function decodeOutput(text: string, role: string): Buffer {
  if (text.length % 4 !== 0) throw new FarmRequestError("garbage", `the builder's output ${role} is not base64`);
  return Buffer.from(text, "base64");
}

/** The builder's result, each output checked against its size and digest and against the outputs the job expects. */
export function checkRunResult(body: unknown, job: CompileJob): CheckedRun {
  const parsed = RunResponseSchema.safeParse(body);
  if (!parsed.success) throw new FarmRequestError("garbage", `the builder's answer is not a job result: ${parsed.error.issues[0]?.message}`);
  const r = parsed.data;
  const outputs = new Map<string, Buffer>();
  for (const o of r.outputs) {
    const expected = job.outputs.find((j) => j.role === o.role);
    if (!expected || expected.path !== o.path) throw new FarmRequestError("garbage", `the builder returned an output the job does not write (${o.role} ${o.path})`);
    if (outputs.has(o.role)) throw new FarmRequestError("garbage", `the builder returned ${o.role} twice`);
    const data = decodeOutput(o.data, o.role);
    if (data.length !== o.size || hashBytes(data) !== o.digest) throw new FarmRequestError("garbage", `output ${o.path} does not match its digest`);
    outputs.set(o.role, data);
  }
  if (r.exitCode === 0) {
    const missing = job.outputs.find((j) => !j.optional && !outputs.has(j.role));
    if (missing) throw new FarmRequestError("garbage", `the job succeeded on the builder but wrote no ${missing.path}`);
  }
  return {
    exitCode: r.exitCode,
    stdout: decode(r.stdout, "stdout"),
    stderr: decode(r.stderr, "stderr"),
    outputs,
    ...(typeof r.timings?.runMs === "number" ? { runMs: r.timings.runMs } : {}),
  };
}
