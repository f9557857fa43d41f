/** Checks a builder's answer before anything of it is used: garbage never reaches the build or the cache. */
import type { CompileJob } from "@reprise/core";
import { FarmRequestError } from "../http/client.js";
import { BadJobResult, decodeJobResult } from "../protocol/job-result.js";

export interface CheckedRun {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  outputs: Map<string, Buffer>;
  runMs?: number;
}

/**
 * The builder's result (protocol/job-result.ts): its framing, every part's
 * size and digest, and its outputs against the ones the job writes.
 */
export function checkRunResult(bytes: Buffer, job: CompileJob): CheckedRun {
  let r;
  try {
    r = decodeJobResult(bytes);
  } catch (err) {
    if (err instanceof BadJobResult) throw new FarmRequestError("garbage", `the builder's answer is not a job result: ${err.message}`);
    throw err;
  }
  const outputs = new Map<string, Buffer>();
  for (const o of r.outputs) {
    const expected = job.outputs.find((j) => j.role === o.role);
    if (!expected || expected.path !== o.path) throw new FarmRequestError("garbage", `the builder returned an output the job does not write (${o.role} ${o.path})`);
    if (outputs.has(o.role)) throw new FarmRequestError("garbage", `the builder returned ${o.role} twice`);
    outputs.set(o.role, o.data);
  }
  if (r.exitCode === 0) {
    const missing = job.outputs.find((j) => !j.optional && !outputs.has(j.role));
    if (missing) throw new FarmRequestError("garbage", `the job succeeded on the builder but wrote no ${missing.path}`);
  }
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, outputs, ...(r.timings ? { runMs: r.timings.runMs } : {}) };
}
