/**
 * What a hermetic job whose call `needsRunner` carries besides its closure:
 * the files of this machine the compiler's plugin names (`runnerFiles`, e.g.
 * rustc's linker with its crt objects and libraries), each file as a
 * content-addressed input at its own path (programs executable), each
 * symlink on the way as a link — except what the toolchain root already
 * holds, which is the same file (the archive is remade when its files change).
 */
import { lstatSync, statSync } from "node:fs";
import { join } from "node:path";
import type { RunnerFiles } from "../engine/hooks.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { CompileJob } from "../sandbox/types.js";
import { collectToolchainFiles } from "../toolchain/collect-files.js";
import type { InputStore } from "./input-store.js";

/** Adds the runner's files to `job`; returns why it could not (a file unreadable or changed meanwhile). */
export async function addRunnerFiles(job: CompileJob, files: RunnerFiles, toolchainRoot: string, inputs: InputStore, hashes: FileHashCache): Promise<string | undefined> {
  let collected: ReturnType<typeof collectToolchainFiles>;
  try {
    collected = collectToolchainFiles(files, files.libraryPath ? { ldLibraryPath: files.libraryPath } : {});
  } catch (err) {
    return (err as Error).message; // a file gone since the plugin named it
  }
  const { entries, missing } = collected;
  if (missing.length) return `libraries not found: ${missing.map((m) => m.name).join(", ")}`;
  const inRoot = (path: string) => lstatSync(join(toolchainRoot, path), { throwIfNoEntry: false }) !== undefined;
  const known = new Set(job.inputs.map((i) => i.path));
  const links = [...(job.links ?? [])];
  for (const e of entries) {
    if (e.type === "directory" || known.has(e.path) || inRoot(e.path)) continue;
    if (e.type === "symlink") {
      if (!links.some((l) => l.path === e.path)) links.push({ path: e.path, target: e.linkTarget ?? "" });
      continue;
    }
    const digest = await hashes.digest(e.path);
    if (!digest) return `${e.path} cannot be read`;
    if (!(await inputs.putFile(e.path, digest.hash))) return `${e.path} changed while it was stored`;
    const executable = e.role === "program" || (statSync(e.path).mode & 0o111) !== 0;
    job.inputs.push({ path: e.path, hash: digest.hash, size: digest.size, ...(executable ? { executable: true } : {}) });
  }
  if (links.length) job.links = links;
  return undefined;
}
