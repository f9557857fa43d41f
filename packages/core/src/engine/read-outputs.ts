import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import type { OutputSpec } from "./types.js";
import { rawEntryInPlace, type CacheEntry } from "../storage/codec.js";

/** `paths[i]` is where `outputs[i]` was read from. */
export type ReadOutputs = { outputs: CacheEntry["outputs"]; paths: string[] } | { missing: OutputSpec };

/**
 * A compile's outputs, read at once (before the answer: the build may move or
 * rewrite them right after); `missing` names a required output that is not
 * there. An entry that will be stored raw (rlibs, programs) gets each output
 * read straight into the blob it will be stored as (`rawEntryInPlace`), so a
 * multi-MB output is allocated and copied once, not twice. `copied`: an
 * output the kernel already copied into the storage (copy-outputs.ts),
 * listed with empty data.
 */
export function readOutputs(specs: readonly OutputSpec[], stdout: Buffer, stderr: Buffer, copied?: OutputSpec): ReadOutputs {
  if (copied) return readByPath(specs, copied);
  const opened: { spec: OutputSpec; fd: number; size: number }[] = [];
  try {
    for (const spec of specs) {
      const fd = openOrUndefined(spec.path);
      if (fd === undefined) {
        if (spec.optional) continue;
        return { missing: spec };
      }
      opened.push({ spec, fd, size: -1 });
      const st = fstatSync(fd);
      // Not a regular file (a device, a FIFO): read as it always was, by path.
      if (!st.isFile()) return readByPath(specs);
      opened[opened.length - 1]!.size = st.size;
    }
    const views = rawEntryInPlace(
      opened.map((o) => o.spec.role),
      opened.map((o) => o.size),
      stdout,
      stderr,
    );
    const paths = opened.map((o) => o.spec.path);
    if (views && opened.every((o, i) => readExactly(o.fd, views[i]!))) return { outputs: opened.map((o, i) => ({ role: o.spec.role, data: views[i]! })), paths };
    // Small (gzipped) entries, or a file whose size changed while it was read: whole reads.
    return { outputs: opened.map((o) => ({ role: o.spec.role, data: readFileSync(o.spec.path) })), paths };
  } finally {
    for (const o of opened) closeSync(o.fd);
  }
}

const NOT_READ = Buffer.alloc(0);

/**
 * The outputs a `compileMiss` tap gave with its result (MissCompileResult.outputs),
 * in the order of `specs`; undefined when a required one is not among them
 * (the files are read instead).
 */
export function givenOutputs(specs: readonly OutputSpec[], given: readonly { role: string; data: Buffer }[]): ReadOutputs | undefined {
  const outputs: CacheEntry["outputs"] = [];
  const paths: string[] = [];
  for (const spec of specs) {
    const data = given.find((g) => g.role === spec.role)?.data;
    if (!data) {
      if (spec.optional) continue;
      return undefined;
    }
    outputs.push({ role: spec.role, data });
    paths.push(spec.path);
  }
  return { outputs, paths };
}

function openOrUndefined(path: string): number | undefined {
  try {
    return openSync(path, "r");
  } catch {
    return undefined;
  }
}

/** Fills `into` from the start of the file; false unless the file holds exactly that many bytes. */
function readExactly(fd: number, into: Buffer): boolean {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, done);
    if (n === 0) return false;
    done += n;
  }
  return readSync(fd, Buffer.allocUnsafe(1), 0, 1, done) === 0;
}

/** `copied`: an output already copied into the storage (copy-outputs.ts): not read, its data left empty. */
function readByPath(specs: readonly OutputSpec[], copied?: OutputSpec): ReadOutputs {
  const outputs: CacheEntry["outputs"] = [];
  const paths: string[] = [];
  for (const spec of specs) {
    if (spec === copied) {
      outputs.push({ role: spec.role, data: NOT_READ });
      paths.push(spec.path);
      continue;
    }
    let data: Buffer;
    try {
      data = readFileSync(spec.path);
    } catch {
      if (spec.optional) continue;
      return { missing: spec };
    }
    outputs.push({ role: spec.role, data });
    paths.push(spec.path);
  }
  return { outputs, paths };
}
