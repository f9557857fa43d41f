import type { JobResult } from "../types.js";

export interface StreamResult {
  stdout: Buffer;
  stderr: Buffer;
  /** stdout and stderr together exceed the limit. */
  overLimit: boolean;
}

/** Buffers of what a job printed, cut to `maxBytes` together, and whether they were over it. */
export function finishStreams(stdout: unknown, stderr: unknown, maxBytes: number, wasCut: boolean): StreamResult {
  let out = toBuffer(stdout);
  let err = toBuffer(stderr);
  const overLimit = wasCut || out.length + err.length > maxBytes;
  if (out.length > maxBytes) out = out.subarray(0, maxBytes);
  if (out.length + err.length > maxBytes) err = err.subarray(0, Math.max(0, maxBytes - out.length));
  return { stdout: out, stderr: err, overLimit };
}

function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === "string") return Buffer.from(v);
  return Buffer.alloc(0);
}

/** Exit status as a shell reports it: the code, or 128 + the signal number. */
export function exitStatus(exitCode: number | undefined, signal: string | undefined): number {
  if (typeof exitCode === "number") return exitCode;
  const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGXCPU: 24, SIGXFSZ: 25 };
  return 128 + (signal ? (signals[signal] ?? 0) : 0);
}

export type KillReason = NonNullable<JobResult["killed"]>;
