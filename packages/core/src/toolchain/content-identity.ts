import { createHash } from "node:crypto";
import { closeSync, lstatSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { posix } from "node:path";
import { hostPath, walkPath } from "./root-path.js";
import type { ToolchainSpec } from "./types.js";

/**
 * A toolchain as its files, whatever name the compiler was called by:
 * `cc`, `gcc` and `gcc-12` are links to one driver, so they make one
 * toolchain, one archive and one id (the farm uploads and stores it once).
 *
 * The links that lead from the compiler's path to its binary (`/usr/bin/cc ->
 * /etc/alternatives/cc -> /usr/bin/gcc -> gcc-12 -> x86_64-linux-gnu-gcc-12`)
 * are left out, the compiler is named by the path it resolves to, and the
 * identity is a digest of the file list and every file's contents. A job
 * names the path it calls the compiler by (`CompileJob.links`), and the
 * sandbox makes that link.
 */
export function identifiedByContent(spec: ToolchainSpec): ToolchainSpec {
  const resolved = resolvedByContent(spec);
  return { ...resolved, identity: contentDigest(resolved) };
}

/**
 * The toolchain as `identifiedByContent` holds it (the names leading to the
 * compiler left out, the compiler under the path it resolves to), with the
 * identity still the caller's: no file is read.
 */
export function resolvedByContent(spec: ToolchainSpec): ToolchainSpec {
  const sysroot = spec.sysroot ?? "/";
  const walk = walkPath(sysroot, spec.compilerPath);
  if (walk.kind !== "file") return spec;
  const namesOfCompiler = new Set(walk.links.filter((l) => walkPath(sysroot, l.path).resolved === walk.resolved).map((l) => l.path));
  const kept = spec.entries.filter((e) => !(e.type === "symlink" && namesOfCompiler.has(e.path)));
  // Directories are recorded as parents of entries: those that only held the compiler's names (/etc/alternatives) go too.
  const holders = kept.filter((e) => e.type !== "directory").map((e) => e.path);
  const entries = kept.filter((e) => e.type !== "directory" || holders.some((p) => p.startsWith(`${e.path}/`)));
  const binary = canonicalHardLink(sysroot, walk.resolved);
  const renamed = binary === walk.resolved ? entries : entries.map((e) => (e.path === walk.resolved ? { ...e, path: binary } : e));
  return { ...spec, entries: renamed, compilerPath: binary };
}

/**
 * A binary with several names in one directory (hard links: `cc` and `gcc`
 * as one file) is held under the first of them in byte order, so that every
 * name gives the same toolchain. Names in other directories are not looked
 * for (gcc finds its programs relative to its own directory).
 */
function canonicalHardLink(sysroot: string, path: string): string {
  const host = hostPath(sysroot, path);
  let st;
  try {
    st = statSync(host);
  } catch {
    return path;
  }
  if (st.nlink < 2) return path;
  const dir = posix.dirname(path);
  let names: string[];
  try {
    names = readdirSync(hostPath(sysroot, dir)).sort();
  } catch {
    return path;
  }
  for (const name of names) {
    try {
      const other = lstatSync(hostPath(sysroot, posix.join(dir, name)));
      if (other.isFile() && other.ino === st.ino && other.dev === st.dev) return posix.join(dir, name);
    } catch {
      // vanished
    }
  }
  return path;
}

/** sha256 of every entry (path, type, link text, role) and every file's contents, in path order. */
export function contentDigest(spec: ToolchainSpec): string {
  const sysroot = spec.sysroot ?? "/";
  const h = createHash("sha256");
  // One read buffer for every file: a new one per file made hundreds of MB of Buffers for the GC to collect.
  const buf = Buffer.allocUnsafe(1 << 20);
  const sorted = [...spec.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const e of sorted) {
    h.update(`${e.path}\0${e.type}\0${e.linkTarget ?? ""}\0${e.role ?? ""}\0`);
    if (e.type === "file") h.update(fileDigest(hostPath(sysroot, e.path), buf));
  }
  return h.digest("hex");
}

function fileDigest(path: string, buf: Buffer): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}
