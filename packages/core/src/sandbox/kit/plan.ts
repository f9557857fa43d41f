import { chmodSync, chownSync, copyFileSync, constants as fsConstants, linkSync, mkdirSync, symlinkSync } from "node:fs";
import { createHash } from "node:crypto";
import { posix } from "node:path";
import type { CompileJob, JobMaterials } from "../types.js";
import { LayoutError } from "./errors.js";
import { ToolchainView } from "./toolchain-view.js";
import { foldToolchainMounts } from "./toolchain-trees.js";

/**
 * One step that builds the sandbox's file system, in order (parents first).
 *
 * - `ro-bind`: a host file or directory mounted read-only at `target`: the
 *   toolchain's (`from: "toolchain"`), an input tree, or one input file.
 * - `bind`: a fresh writable host directory mounted at `target` (the job's directory, output directories).
 * - `dir`: an empty directory created in the sandbox's own root (only with `base: "empty"`).
 * - `symlink`: a symlink created in the sandbox's own root (only with `base: "empty"`).
 */
export type MountOp =
  | { op: "ro-bind"; source: string; target: string; from: "toolchain" | "tree" | "file" }
  | { op: "bind"; source: string; target: string }
  | { op: "dir"; target: string }
  | { op: "symlink"; linkText: string; target: string };

export interface WritableDir {
  /** Path inside the sandbox. */
  path: string;
  /** The fresh host directory mounted there. */
  hostDir: string;
}

export interface LayoutOutput {
  role: string;
  /** The output's path as the job names it. */
  path: string;
  /** Where the sandboxed program's file is found on the host after the run. */
  hostPath: string;
  /** The writable directory holding it. */
  writable: WritableDir;
  optional: boolean;
}

export interface JobLayout {
  ops: MountOp[];
  writable: WritableDir[];
  outputs: LayoutOutput[];
  /** Sandbox paths the sandbox mounts itself before `ops` (`/proc`, `/dev`, `/tmp`), unless `ops` mount one of them. */
  systemDirs: string[];
  /**
   * How many input files are hard-linked (or copied) into directory trees, how many are mounted one by one,
   * and how many input trees were prepared trees reused from `materials.inputTrees`.
   */
  stats: { linkedInputs: number; boundInputs: number; toolchainBinds: number; reusedInputTrees: number; foldedToolchainTrees: number };
  /** Gives back the prepared input trees the layout mounts (`materials.inputTrees`): call once the job has ended. */
  release(): void;
}

export interface LayoutOptions {
  /**
   * What the sandbox's root holds before `ops` run:
   * - `"empty"`: nothing; the toolchain's parts are mounted by `ops` (bwrap: the root is a tmpfs made read-only after).
   * - `"image"`: the toolchain already (a container image made from it); `ops` mount only the job's files.
   */
  base: "empty" | "image";
  /** Applied to every writable directory created on the host (e.g. chown to the container's user). */
  prepareWritableDir?: (hostDir: string) => void;
  /** Directories the sandbox mounts itself; inputs below them are placed on top. Default `/proc`, `/dev`, `/tmp`. */
  systemDirs?: string[];
  /**
   * Mount a directory holding only inputs as one hard-linked tree (default), or
   * (`false`) mount each input file on its own: slower past a few dozen inputs.
   */
  inputTrees?: boolean;
}

interface Node {
  name: string;
  path: string;
  children: Map<string, Node>;
  /** An input file to mount here; `named`: the command line names it (the job's own source). */
  input?: { hash: string; executable: boolean; named: boolean };
  /** A writable directory is mounted here. */
  writableRoot?: WritableDir;
  /** Must be writable: the job's directory or an output's directory. */
  needsWrite?: boolean;
  /** This node or one below needs writing, or is a writable root. */
  subtreeWrite?: boolean;
  /** Mounted by the sandbox itself (`/tmp`): never replaced, its contents placed on top. */
  system?: boolean;
  /** A symlink the job names (`CompileJob.links`), with this text. */
  link?: string;
}

const DEFAULT_SYSTEM_DIRS = ["/proc", "/dev", "/tmp"];

/**
 * Plans the file system a job runs in: the toolchain as the root, each input
 * at its own path (read-only), a fresh writable directory at the job's cwd
 * and at the directory of any output outside it, and output directories
 * created in advance (a local build had created them).
 *
 * Mounts are made at the coarsest level that is correct: a directory only the
 * toolchain has, or only inputs have, is one mount (inputs are hard-linked
 * into a tree in the scratch directory for this); only directories both
 * contribute to are descended into. Paths are resolved through the
 * toolchain's symlinks (`/lib` → `usr/lib`) so that inputs land where the
 * program will look.
 *
 * Writes into `materials.scratchDir`: `w/N` (writable directories), `in/N`
 * (input trees made for this job), `x/N` (executable inputs).
 */
export function planJobLayout(job: CompileJob, materials: JobMaterials, options: LayoutOptions): JobLayout {
  const tc = ToolchainView.shared(materials.toolchainRoot);
  const scratch = materials.scratchDir;
  const systemDirs = options.systemDirs ?? DEFAULT_SYSTEM_DIRS;
  const root: Node = { name: "", path: "/", children: new Map() };

  const nodeAt = (path: string, what: string): Node => {
    let node = root;
    for (const c of path.split("/").filter(Boolean)) {
      if (node.input) throw new LayoutError(`${what} ${path} lies under the input file ${node.path}`);
      let next = node.children.get(c);
      if (!next) {
        next = { name: c, path: below(node.path, c), children: new Map() };
        node.children.set(c, next);
      }
      node = next;
    }
    return node;
  };
  const isUnder = (path: string, dir: string) => dir === "/" || path === dir || path.startsWith(dir + "/");

  for (const dir of systemDirs) {
    if (dir === "/tmp") nodeAt(dir, "system directory").system = true;
  }

  // Inputs. Those the command line names (the job's sources) differ from job to job: see `inputTree`.
  const named = namedOnCommandLine(job);
  const traversed = new Set<string>();
  for (const input of job.inputs) {
    const path = tc.resolve(input.path, false, traversed);
    for (const sys of systemDirs) {
      if (sys !== "/tmp" && isUnder(path, sys)) throw new LayoutError(`input ${input.path} is under ${sys}, which the sandbox provides`);
    }
    const node = nodeAt(path, "input");
    if (node.children.size) throw new LayoutError(`input ${input.path} is also a directory of other inputs`);
    if (node.input && node.input.hash !== input.hash) throw new LayoutError(`two inputs with different contents at ${path}`);
    node.input = { hash: input.hash, executable: input.executable === true, named: named.has(input.path) };
  }

  // Links the job names (argv[0] of a compiler the toolchain holds under another name), unless the toolchain has that path.
  for (const link of job.links ?? []) {
    const path = posix.join(tc.resolve(posix.dirname(link.path), false, traversed), posix.basename(link.path));
    if (tc.kind(path) !== null) continue;
    const node = nodeAt(path, "link");
    if (node.input || node.children.size) throw new LayoutError(`link ${link.path} is also an input or a directory of the job`);
    node.link = link.target;
  }

  // Directories the job names (include directories): they exist, read-only, even when no input lies in them.
  for (const dir of job.directories ?? []) {
    let path: string;
    try {
      path = tc.resolve(dir, false);
    } catch {
      continue; // leads through a toolchain file: not a directory the job can have
    }
    if (systemDirs.some((sys) => sys !== "/tmp" && isUnder(path, sys))) continue;
    if (tc.kind(path) !== null) continue; // the toolchain has it (as a directory, or as something the job cannot change)
    if (pathHasInput(root, path)) continue;
    nodeAt(path, "directory");
  }

  // Writable directories: the cwd, and each output's directory not inside another one.
  const cwd = tc.resolve(job.cwd, false, traversed);
  const outputDirs = job.outputs.map((o) => tc.resolve(posix.dirname(o.path), false, traversed));
  const wanted = [cwd, ...outputDirs];
  const roots = [...new Set(wanted)].filter((d) => !wanted.some((o) => o !== d && isUnder(d, o)));
  for (const dir of roots) {
    for (const sys of systemDirs) {
      if (sys !== "/tmp" && isUnder(dir, sys)) throw new LayoutError(`writable directory ${dir} is under ${sys}, which the sandbox provides`);
    }
    const node = nodeAt(dir, "writable directory");
    if (node.input) throw new LayoutError(`writable directory ${dir} is an input file`);
    node.writableRoot = { path: dir, hostDir: "" };
  }
  for (const dir of wanted) nodeAt(dir, "writable directory").needsWrite = true;
  for (const dir of traversed) {
    const n = nodeAt(dir, "directory");
    if (n.input) throw new LayoutError(`${dir} is both an input file and a directory`);
  }

  const markWrite = (n: Node): boolean => {
    let any = Boolean(n.writableRoot || n.needsWrite);
    for (const c of n.children.values()) any = markWrite(c) || any;
    n.subtreeWrite = any;
    return any;
  };
  markWrite(root);

  const ops: MountOp[] = [];
  const writable: WritableDir[] = [];
  const stats = { linkedInputs: 0, boundInputs: 0, toolchainBinds: 0, reusedInputTrees: 0, foldedToolchainTrees: 0 };
  const leases: { release(): void }[] = [];
  let counter = 0;

  const makeWritable = (hostDir: string) => {
    mkdirSync(hostDir, { recursive: true, mode: 0o755 });
    options.prepareWritableDir?.(hostDir);
  };
  const inputSource = (n: Node): string => {
    const blob = materials.inputBlob(n.input!.hash);
    if (!n.input!.executable) return blob;
    const copy = posix.join(scratch, "x", String(counter++));
    mkdirSync(posix.dirname(copy), { recursive: true, mode: 0o755 });
    copyFileSync(blob, copy);
    chmodSync(copy, 0o555);
    return copy;
  };
  const fill = (node: Node, dir: string, apart?: ReadonlySet<Node>) => {
    for (const c of node.children.values()) {
      const dest = below(dir, c.name);
      if (c.link !== undefined) symlinkSync(c.link, dest);
      else if (c.input) linkOrCopy(materials.inputBlob(c.input.hash), dest, c.input.executable);
      else {
        mkdirSync(dest, { mode: 0o755 });
        if (!apart?.has(c)) fill(c, dest, apart);
      }
    }
  };
  let jobTrees = 0;
  /**
   * A tree of hard links (or copies) of the inputs below `n`, made in the scratch directory for this job only:
   * `in/N`, not `in/<n's path>` (every directory of that path is a `mkdir` now and an `rmdir` after the job).
   */
  const jobTree = (n: Node): string => {
    if (!jobTrees) mkdirSync(posix.join(scratch, "in"), { mode: 0o755 });
    const hostDir = posix.join(scratch, "in", String(jobTrees++));
    mkdirSync(hostDir, { mode: 0o755 });
    fill(n, hostDir);
    return hostDir;
  };
  /**
   * Mounts for the inputs below `n`: one tree (`in/…`, or a prepared one from
   * `materials.inputTrees`). A prepared tree is kept for later jobs, so the
   * directories holding the job's own sources (which differ from job to job)
   * are left empty in it and mounted on top from a tree made for this job:
   * the project's other directories are then shared by every job.
   */
  const inputTree = (n: Node): MountOp[] => {
    stats.linkedInputs += countInputs(n);
    const cache = materials.inputTrees;
    if (!cache) return [{ op: "ro-bind", source: jobTree(n), target: n.path, from: "tree" }];
    const apart = directoriesOfNamedInputs(n);
    if (apart === "all") return [{ op: "ro-bind", source: jobTree(n), target: n.path, from: "tree" }];
    let built = false;
    const lease = cache.acquire(treeKey(n, apart), (dir) => {
      built = true;
      fill(n, dir, apart);
    });
    leases.push(lease);
    if (!built) stats.reusedInputTrees++;
    return [{ op: "ro-bind", source: lease.path, target: n.path, from: "tree" }, ...[...apart].map((d): MountOp => ({ op: "ro-bind", source: jobTree(d), target: d.path, from: "tree" }))];
  };

  type Ctx = { kind: "empty" } | { kind: "image" } | { kind: "writable"; hostDir: string };

  const placeToolchainEntry = (path: string, name: string, ctx: Ctx) => {
    if (ctx.kind === "image") return;
    const kind = tc.kind(path);
    if (kind === "symlink") {
      const text = tc.readlink(path);
      if (ctx.kind === "empty") ops.push({ op: "symlink", linkText: text, target: path });
      else symlinkSync(text, posix.join(ctx.hostDir, name));
    } else if (kind === "dir" || kind === "file") {
      ops.push({ op: "ro-bind", source: tc.hostPath(path), target: path, from: "toolchain" });
      stats.toolchainBinds++;
    }
  };

  const placeChildren = (n: Node, ctx: Ctx) => {
    const fromToolchain = tc.kind(n.path) === "dir" ? tc.list(n.path) : [];
    const names = [...new Set([...fromToolchain, ...n.children.keys()])].sort();
    for (const name of names) {
      const child = n.children.get(name);
      const path = below(n.path, name);
      if (child) place(child, ctx);
      else if (n.path === "/" && systemDirs.includes(path)) continue;
      else placeToolchainEntry(path, name, ctx);
    }
  };

  const place = (n: Node, ctx: Ctx): void => {
    const tKind = tc.kind(n.path);
    if (n.link !== undefined) {
      // A container image made for the job holds its links already (see the container sandbox).
      if (ctx.kind === "empty") ops.push({ op: "symlink", linkText: n.link, target: n.path });
      else if (ctx.kind === "writable") symlinkSync(n.link, posix.join(ctx.hostDir, n.name));
      return;
    }
    if (n.writableRoot) {
      const hostDir = posix.join(scratch, "w", String(writable.length));
      makeWritable(hostDir);
      n.writableRoot.hostDir = hostDir;
      writable.push(n.writableRoot);
      ops.push({ op: "bind", source: hostDir, target: n.path });
      placeChildren(n, { kind: "writable", hostDir });
      return;
    }
    if (n.input) {
      ops.push({ op: "ro-bind", source: inputSource(n), target: n.path, from: "file" });
      stats.boundInputs++;
      return;
    }
    if (n.system) {
      placeChildren(n, ctx.kind === "writable" ? ctx : { kind: ctx.kind === "image" ? "image" : "empty" });
      return;
    }
    if (!n.subtreeWrite && tKind !== "dir" && options.inputTrees !== false) {
      if (tKind === "file") throw new LayoutError(`${n.path} is a file of the toolchain but a directory of the job`);
      ops.push(...inputTree(n));
      return;
    }
    // A directory both the toolchain and the job contribute to, or one holding a writable directory.
    if (tKind !== null && tKind !== "dir") throw new LayoutError(`${n.path} is a file of the toolchain but a directory of the job`);
    let childCtx: Ctx = ctx;
    if (ctx.kind === "empty") {
      if (n.path !== "/") ops.push({ op: "dir", target: n.path });
    } else if (ctx.kind === "writable") {
      const hostDir = posix.join(ctx.hostDir, n.name);
      makeWritable(hostDir);
      childCtx = { kind: "writable", hostDir };
    }
    placeChildren(n, childCtx);
  };

  const release = () => {
    for (const lease of leases.splice(0)) lease.release();
  };
  let planned = ops;
  try {
    place(root, { kind: options.base });
    if (options.base === "empty" && materials.toolchainTrees) {
      const folded = foldToolchainMounts(ops, tc, materials.toolchainTrees, leases);
      planned = folded.ops;
      stats.foldedToolchainTrees = folded.folded;
    }
  } catch (err) {
    release();
    throw err;
  }

  const outputs: LayoutOutput[] = job.outputs.map((o) => {
    const path = posix.join(tc.resolve(posix.dirname(o.path), false), posix.basename(o.path));
    const w = writable.find((d) => isUnder(path, d.path));
    if (!w) {
      release();
      throw new LayoutError(`output ${o.path} is in no writable directory`);
    }
    const hostPath = w.path === "/" ? w.hostDir + path : w.hostDir + path.slice(w.path.length);
    return { role: o.role, path: o.path, hostPath, writable: w, optional: o.optional === true };
  });

  return { ops: planned, writable, outputs, systemDirs: systemDirs.filter((d) => !planned.some((op) => op.target === d)), stats, release };
}

/**
 * `dir`/`name` for a normalised `dir` and a single entry name (from a split
 * normalised path or a directory listing: never empty, `.` or `..`): what
 * `posix.join` gives, without its normalising, which showed in the profile
 * of a job's layout (a few hundred entries per job).
 */
function below(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function countInputs(n: Node): number {
  let count = n.input ? 1 : 0;
  for (const c of n.children.values()) count += countInputs(c);
  return count;
}

/**
 * Names everything an input tree holds: each entry's path below the tree,
 * kind, and content (digest and mode, link text); empty directories too.
 * Two trees with one key are the same tree.
 */
function treeKey(n: Node, apart?: ReadonlySet<Node>): string {
  // One string hashed once: an update per entry costs more than the hashing (a tree holds up to a few hundred entries).
  const parts: string[] = [];
  const walk = (node: Node) => {
    for (const name of [...node.children.keys()].sort()) {
      const c = node.children.get(name)!;
      if (c.link !== undefined) parts.push(`l\0${name}\0${c.link}\0`);
      else if (c.input) parts.push(`f\0${name}\0${c.input.hash}\0${c.input.executable ? "x" : "r"}\0`);
      else {
        parts.push(`d\0${name}\0`);
        if (!apart?.has(c)) walk(c);
        parts.push("u\0");
      }
    }
  };
  walk(n);
  return createHash("sha256").update(parts.join("")).digest("hex");
}

/**
 * The outermost directories below `n` that hold an input the command line
 * names, or "all" when `n` itself holds one.
 */
function directoriesOfNamedInputs(n: Node): Set<Node> | "all" {
  const found = new Set<Node>();
  const walk = (dir: Node): boolean => {
    for (const c of dir.children.values()) {
      if (c.input?.named) {
        if (dir === n) return false;
        found.add(dir);
        return true; // the whole directory is this job's: nothing below it is kept
      }
    }
    for (const c of dir.children.values()) if (!c.input && c.link === undefined && !walk(c)) return false;
    return true;
  };
  return walk(n) ? found : "all";
}

/** Absolute paths of the command line's arguments that are not options (relative ones taken from the job's directory). */
function namedOnCommandLine(job: CompileJob): Set<string> {
  const named = new Set<string>();
  for (const arg of job.argv.slice(1)) if (arg && !arg.startsWith("-")) named.add(posix.resolve(job.cwd, arg));
  return named;
}

/** An input file lies at `path` or above it. */
function pathHasInput(root: Node, path: string): boolean {
  let node: Node | undefined = root;
  for (const c of path.split("/").filter(Boolean)) {
    node = node.children.get(c);
    if (!node) return false;
    if (node.input) return true;
  }
  return false;
}

function linkOrCopy(blob: string, dest: string, executable: boolean): void {
  if (!executable) {
    try {
      linkSync(blob, dest);
      return;
    } catch {
      // another file system, or links not allowed: copy
    }
  }
  copyFileSync(blob, dest, fsConstants.COPYFILE_FICLONE);
  chmodSync(dest, executable ? 0o555 : 0o444);
}

/** A `prepareWritableDir` for containers whose user differs from ours: chown when we may, else world-writable. */
export function writableFor(uid: number, gid: number): (hostDir: string) => void {
  const weAreRoot = process.getuid?.() === 0;
  return (hostDir) => {
    if (weAreRoot) chownSync(hostDir, uid, gid);
    else chmodSync(hostDir, 0o777);
  };
}
