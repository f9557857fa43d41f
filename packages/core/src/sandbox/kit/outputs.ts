import { lstatSync, realpathSync } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { posix } from "node:path";
import type { JobResult } from "../types.js";
import type { JobLayout } from "./plan.js";
import { readNoFollow } from "../../util/read-no-follow.js";
import { smallTreeUsage } from "./small-trees.js";

export interface CollectedOutputs {
  outputs: { role: string; data: Buffer }[];
  /** Bytes of the outputs found (read or not). */
  bytes: number;
  /** The outputs together exceed `maxBytes`: none was read. */
  overLimit: boolean;
}

/**
 * Reads the job's outputs from its writable directories once the sandbox is
 * gone. Only regular files are taken, opened without following a symlink,
 * from a directory that is really inside the writable directory (a job could
 * have replaced `build/` with a link to a host path): an output can never be
 * a host file the job was not given. Missing outputs are left out.
 */
export function collectOutputs(layout: JobLayout, maxBytes: number): CollectedOutputs {
  const found: { role: string; hostPath: string; size: number }[] = [];
  let bytes = 0;
  const realRoots = new Map<string, string>();
  for (const out of layout.outputs) {
    let st;
    try {
      st = lstatSync(out.hostPath);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    let rootReal = realRoots.get(out.writable.hostDir);
    if (rootReal === undefined) {
      rootReal = realpathSync(out.writable.hostDir);
      realRoots.set(out.writable.hostDir, rootReal);
    }
    let dirReal: string;
    try {
      dirReal = realpathSync(posix.dirname(out.hostPath));
    } catch {
      continue;
    }
    if (dirReal !== rootReal && !dirReal.startsWith(rootReal + "/")) continue;
    found.push({ role: out.role, hostPath: posix.join(dirReal, posix.basename(out.hostPath)), size: st.size });
    bytes += st.size;
  }
  if (bytes > maxBytes) return { outputs: [], bytes, overLimit: true };
  const outputs: CollectedOutputs["outputs"] = [];
  for (const f of found) {
    const found = readNoFollow(f.hostPath, (st) => st.isFile() && st.size <= maxBytes);
    if (found.kind === "read") outputs.push({ role: f.role, data: found.data });
  }
  return { outputs, bytes, overLimit: false };
}

/** Total size of the regular files below `dir` (not following links). */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = posix.join(dir, e.name);
    if (e.isDirectory()) total += await diskUsage(p);
    else if (e.isFile()) {
      try {
        total += (await lstat(p)).size;
      } catch {
        // removed meanwhile
      }
    }
  }
  return total;
}

/**
 * Polls the size of the job's writable directories while it runs and calls
 * `onExceeded` once when they hold more than `maxBytes`. A file-size rlimit
 * stops one runaway file at once; this catches many files.
 */
export function watchDiskUsage(dirs: string[], maxBytes: number, intervalMs: number, onExceeded: (bytes: number) => void): () => void {
  let stopped = false;
  let busy = false;
  const judge = (total: number) => {
    if (!stopped && total > maxBytes) {
      stopped = true;
      clearInterval(timer);
      onExceeded(total);
    }
  };
  const timer = setInterval(() => {
    if (busy || stopped) return;
    let total = 0;
    const large: string[] = [];
    for (const d of dirs) {
      const small = smallTreeUsage(d);
      if (small === undefined) large.push(d);
      else total += small;
    }
    // Most polls end here, synchronously: no promise per poll of a job's few files.
    if (!large.length) return judge(total);
    busy = true;
    void (async () => {
      for (const d of large) total += await diskUsage(d);
      busy = false;
      judge(total);
    })();
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/**
 * The result of a job whose program has ended: what it printed, and its
 * outputs unless it was killed or wrote more than `maxBytes` in all (its
 * printed streams, its writable directories, its outputs).
 */
export async function finishJob(
  layout: JobLayout,
  exitCode: number,
  streams: { stdout: Buffer; stderr: Buffer; overLimit: boolean },
  maxBytes: number,
  killed: NonNullable<JobResult["killed"]> | undefined,
): Promise<JobResult> {
  const printed = { exitCode, stdout: streams.stdout, stderr: streams.stderr };
  if (!killed && streams.overLimit) killed = "output-limit";
  if (!killed) {
    let written = 0;
    for (const w of layout.writable) written += smallTreeUsage(w.hostDir) ?? (await diskUsage(w.hostDir));
    if (written > maxBytes) killed = "output-limit";
  }
  if (killed) return { ...printed, outputs: [], killed };
  const collected = collectOutputs(layout, maxBytes - streams.stdout.length - streams.stderr.length);
  if (collected.overLimit) return { ...printed, outputs: [], killed: "output-limit" };
  return { ...printed, outputs: collected.outputs };
}
