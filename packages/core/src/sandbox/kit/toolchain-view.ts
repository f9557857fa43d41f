import { lstatSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { LayoutError } from "./errors.js";

export type EntryKind = "dir" | "file" | "symlink" | "other";

const MAX_SYMLINK_HOPS = 40;
/** Toolchain views kept between jobs (least recently used first out). */
const MAX_SHARED_VIEWS = 16;
/** Lookups a kept view holds before it is started afresh. */
const MAX_SHARED_ENTRIES = 100_000;
const SHARED = new Map<string, ToolchainView>();

/**
 * The unpacked toolchain seen as the sandbox's `/`: what is at a sandbox
 * path, and where a path leads once the toolchain's own symlinks are followed
 * (`/lib/x86_64-linux-gnu/libc.so.6` is `/usr/lib/...` when `/lib` links to
 * `usr/lib`). Lookups are memoised: one job asks about the same directories
 * many times.
 */
export class ToolchainView {
  private readonly kinds = new Map<string, EntryKind | null>();
  private readonly links = new Map<string, string>();
  /** Where a path leads (`resolve` without `keepLast`), with the directories a `..` in it stepped out of. */
  private readonly resolved = new Map<string, { to: string; through?: string[] }>();
  private readonly listed = new Map<string, string[]>();

  /** `identity`: the root's path, and its inode and mtime when known (a directory replaced at the same path is another toolchain). */
  constructor(
    readonly root: string,
    readonly identity: string = root,
  ) {}

  /**
   * The view of `root` shared by the jobs that run with it: an unpacked
   * toolchain does not change (its directory is named by its content), so
   * what one job looked up holds for the next. Keyed by the root's inode and
   * mtime as well, so a directory replaced at the same path gets a fresh view;
   * a view that has answered for many paths (the jobs' own directories are
   * asked about too) is started afresh.
   */
  static shared(root: string): ToolchainView {
    let id: string;
    try {
      const st = statSync(root);
      id = `${root}\0${st.ino}\0${st.mtimeMs}`;
    } catch {
      return new ToolchainView(root);
    }
    let view = SHARED.get(id);
    if (view && view.size() > MAX_SHARED_ENTRIES) view = undefined;
    if (view) {
      SHARED.delete(id);
    } else {
      view = new ToolchainView(root, id);
      if (SHARED.size >= MAX_SHARED_VIEWS) SHARED.delete(SHARED.keys().next().value!);
    }
    SHARED.set(id, view);
    return view;
  }

  private size(): number {
    return this.kinds.size + this.resolved.size + this.listed.size;
  }

  /** Host path of a sandbox path. */
  hostPath(path: string): string {
    return path === "/" ? this.root : this.root + path;
  }

  kind(path: string): EntryKind | null {
    let k = this.kinds.get(path);
    if (k !== undefined) return k;
    try {
      const st = lstatSync(this.hostPath(path));
      k = st.isDirectory() ? "dir" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other";
    } catch {
      k = null;
    }
    this.kinds.set(path, k);
    return k;
  }

  readlink(path: string): string {
    let t = this.links.get(path);
    if (t === undefined) {
      t = readlinkSync(this.hostPath(path));
      this.links.set(path, t);
    }
    return t;
  }

  /** Names in a toolchain directory, sorted (the caller does not change the array). */
  list(path: string): string[] {
    let names = this.listed.get(path);
    if (names === undefined) {
      try {
        names = readdirSync(this.hostPath(path)).sort();
      } catch {
        names = [];
      }
      this.listed.set(path, names);
    }
    return names;
  }

  /**
   * Where `path` leads inside the sandbox: `.` and `..` are applied to the
   * physical path walked so far, as the kernel does, and symlinks of the
   * toolchain are followed. Components absent from the toolchain are kept as
   * they are (they are created by the layout). The last component is followed
   * too unless `keepLast` is set. `traversed` receives every directory a `..`
   * stepped out of, which must therefore exist in the sandbox.
   */
  resolve(path: string, keepLast = false, traversed?: Set<string>): string {
    if (!path.startsWith("/")) throw new LayoutError(`not an absolute path: ${path}`);
    // Memoised with what it traversed: a job resolves each of its inputs, and most were resolved for an earlier job.
    const hit = keepLast ? undefined : this.resolved.get(path);
    if (hit) {
      if (traversed && hit.through) for (const dir of hit.through) traversed.add(dir);
      return hit.to;
    }
    const through: string[] = [];
    const queue = path.split("/").filter((c) => c !== "" && c !== ".");
    const last = keepLast ? queue.pop() : undefined;
    let out: string[] = [];
    let hops = 0;
    let outsideToolchain = false;
    while (queue.length) {
      const c = queue.shift()!;
      if (c === ".") continue;
      if (c === "..") {
        if (out.length) {
          through.push("/" + out.join("/"));
          out.pop();
        }
        outsideToolchain = false;
        continue;
      }
      const candidate = "/" + [...out, c].join("/");
      const kind = outsideToolchain ? null : this.kind(candidate);
      if (kind === "symlink") {
        if (++hops > MAX_SYMLINK_HOPS) throw new LayoutError(`too many levels of symbolic links in the toolchain resolving ${path}`);
        const text = this.readlink(candidate);
        if (text.startsWith("/")) out = [];
        queue.unshift(...text.split("/").filter((x) => x !== ""));
        continue;
      }
      if (kind !== null && kind !== "dir" && queue.length > 0) {
        throw new LayoutError(`${path}: ${candidate} is a file of the toolchain, not a directory`);
      }
      if (kind === null) outsideToolchain = true;
      out.push(c);
    }
    if (last !== undefined && last !== "..") out.push(last);
    else if (last === "..") out.pop();
    const result = "/" + out.join("/");
    if (traversed) for (const dir of through) traversed.add(dir);
    if (!keepLast) this.resolved.set(path, through.length ? { to: result, through } : { to: result });
    return result;
  }
}
