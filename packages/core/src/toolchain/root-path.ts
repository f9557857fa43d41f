import { lstatSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";

/**
 * Path resolution inside a root directory, done the way the kernel does it
 * for a process whose root is that directory: symlinks are followed one
 * component at a time, absolute link targets start again at the root, `..`
 * goes to the physical parent (and stays at the root at the top). Every
 * symlink passed on the way is reported, so a toolchain can keep them and run
 * at the same paths elsewhere. With root "/" this is ordinary resolution on
 * this machine.
 */

const MAX_SYMLINKS = 40;

export interface WalkedLink {
  /** Absolute path of the symlink inside the root (its parents are real directories). */
  path: string;
  /** Its target, as written in the link. */
  target: string;
}

export interface PathWalk {
  /** The path asked for. */
  path: string;
  /** Where it leads: an absolute path inside the root with no symlink in it. */
  resolved: string;
  /** Every symlink followed, in order. */
  links: WalkedLink[];
  /** What `resolved` is; "missing" when a component does not exist (or is not a directory). */
  kind: "file" | "directory" | "symlink" | "other" | "missing";
  stats?: Stats;
}

export class PathLoopError extends Error {
  constructor(readonly path: string) {
    super(`${path}: too many levels of symbolic links`);
    this.name = "PathLoopError";
  }
}

/** The host path of an absolute path inside `root`. */
export function hostPath(root: string, path: string): string {
  return root === "/" ? path : join(root, path);
}

/** Splits an absolute or relative path into its non-empty components. */
export function pathComponents(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/**
 * Resolves `path` (absolute, inside the root) as the kernel would with `root`
 * as `/`. With `followFinal: false` a final symlink is not followed (lstat).
 */
export function walkPath(root: string, path: string, options: { followFinal?: boolean } = {}): PathWalk {
  const followFinal = options.followFinal ?? true;
  const links: WalkedLink[] = [];
  const current: string[] = [];
  let pending = pathComponents(path);
  let followed = 0;
  while (pending.length) {
    const comp = pending.shift()!;
    if (comp === "..") {
      current.pop();
      continue;
    }
    const candidate = "/" + [...current, comp].join("/");
    let st: Stats;
    try {
      st = lstatSync(hostPath(root, candidate));
    } catch {
      return { path, resolved: "/" + [...current, comp, ...pending].join("/"), links, kind: "missing" };
    }
    const last = pending.length === 0;
    if (st.isSymbolicLink() && (!last || followFinal)) {
      if (++followed > MAX_SYMLINKS) throw new PathLoopError(path);
      const target = readlinkSync(hostPath(root, candidate));
      links.push({ path: candidate, target });
      if (target.startsWith("/")) current.length = 0;
      pending = [...pathComponents(target), ...pending];
      continue;
    }
    if (!last && !st.isDirectory()) {
      return { path, resolved: "/" + [...current, comp, ...pending].join("/"), links, kind: "missing" };
    }
    current.push(comp);
    if (last) {
      const kind = st.isFile() ? "file" : st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : "other";
      return { path, resolved: candidate, links, kind, stats: st };
    }
  }
  // The path ended in ".." (or is the root): what is left is a directory already walked.
  const resolved = "/" + current.join("/");
  let st: Stats | undefined;
  try {
    st = lstatSync(hostPath(root, resolved));
  } catch {
    return { path, resolved, links, kind: "missing" };
  }
  return { path, resolved, links, kind: st.isDirectory() ? "directory" : st.isFile() ? "file" : "other", stats: st };
}

/** The directories above an absolute path, outermost first ("/a/b/c" → ["/a", "/a/b"]). */
export function ancestors(path: string): string[] {
  const parts = pathComponents(path);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push("/" + parts.slice(0, i).join("/"));
  return out;
}

/**
 * Joins a directory and a name without normalising: `..` must be resolved
 * physically (after symlinks), which `path.join` does not do.
 */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}
