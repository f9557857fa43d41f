import { createHash } from "node:crypto";
import { chmodSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { posix } from "node:path";
import type { JobMaterials } from "../types.js";
import type { MountOp } from "./plan.js";
import type { ToolchainView } from "./toolchain-view.js";

type ToolchainTreeCache = NonNullable<JobMaterials["toolchainTrees"]>;

/** Entries one folded tree may hold: past it the toolchain's parts stay mounted one by one. */
const MAX_ENTRIES = 20_000;
/** Keys that could not be folded (too many entries, another file system), not tried again; forgotten past this many. */
const MAX_REMEMBERED = 1000;
const unfoldable = new Set<string>();

/**
 * Folds the toolchain's mounts below each top-level directory of the sandbox
 * (`/usr`) into one prepared read-only tree, mounted once, instead of a mount
 * per toolchain file or directory and a made directory per level: each
 * mount costs bwrap a system call and a read of the growing mount table, for
 * every job. The tree holds hard links to the toolchain's files, its
 * symlinks and directories, and an empty directory or file where an input
 * is mounted on top (the input mounts stay, after the tree's). It is the
 * same for every job of a toolchain whose inputs are mounted at the same
 * places, so it is made once and kept by `cache`.
 *
 * Only directories without a writable mount below them are folded. When a
 * tree cannot be made (the toolchain on another file system, too many
 * entries) the mounts are left as they are.
 */
export function foldToolchainMounts(ops: MountOp[], tc: ToolchainView, cache: ToolchainTreeCache, leases: { release(): void }[]): { ops: MountOp[]; folded: number } {
  const out: MountOp[] = [];
  let folded = 0;
  for (let i = 0; i < ops.length; ) {
    const top = topOf(ops[i]!.target);
    let end = i + 1;
    while (end < ops.length && topOf(ops[end]!.target) === top) end++;
    const group = ops.slice(i, end);
    i = end;
    const tree = foldable(group, top) ? treeFor(group, top, tc, cache) : undefined;
    if (!tree) {
      out.push(...group);
      continue;
    }
    leases.push(tree);
    folded++;
    out.push({ op: "ro-bind", source: tree.path, target: top, from: "tree" }, ...group.filter((op) => op.op === "ro-bind" && op.from !== "toolchain"));
  }
  return { ops: out, folded };
}

function topOf(path: string): string {
  const slash = path.indexOf("/", 1);
  return slash < 0 ? path : path.slice(0, slash);
}

/** A directory made in the sandbox's root, holding no writable mount and at least two of the toolchain's. */
function foldable(group: MountOp[], top: string): boolean {
  if (group[0]!.op !== "dir" || group[0]!.target !== top) return false;
  let toolchain = 0;
  for (const op of group) {
    if (op.op === "bind") return false;
    if (op.op === "ro-bind" && op.from === "toolchain") toolchain++;
  }
  return toolchain >= 2;
}

function treeFor(group: MountOp[], top: string, tc: ToolchainView, cache: ToolchainTreeCache): { path: string; release(): void } | undefined {
  // The key names the toolchain (its root's identity) and every entry of the tree but the toolchain's own contents.
  const parts = [`toolchain-tree\0${tc.identity}\0${top}\0`];
  for (const op of group.slice(1)) {
    const at = op.target.slice(top.length);
    if (op.op === "dir") parts.push(`d\0${at}\0`);
    else if (op.op === "symlink") parts.push(`l\0${at}\0${op.linkText}\0`);
    else if (op.op === "ro-bind") parts.push(op.from === "toolchain" ? `t\0${at}\0` : `m\0${at}\0${op.from === "file" ? "f" : "d"}\0`);
  }
  const key = createHash("sha256").update(parts.join("")).digest("hex");
  if (unfoldable.has(key)) return undefined;
  try {
    return cache.acquire(key, (dir) => {
      let entries = 0;
      for (const op of group.slice(1)) {
        const dest = dir + op.target.slice(top.length);
        if (op.op === "dir") mkdirSync(dest, { mode: 0o755 });
        else if (op.op === "symlink") symlinkSync(op.linkText, dest);
        else if (op.op === "ro-bind" && op.from === "toolchain") entries = linkTree(op.source, dest, entries);
        else if (op.op === "ro-bind" && op.from === "file") writeFileSync(dest, "", { mode: 0o444 });
        else mkdirSync(dest, { mode: 0o755 });
      }
    });
  } catch {
    if (unfoldable.size >= MAX_REMEMBERED) unfoldable.clear();
    unfoldable.add(key);
    return undefined;
  }
}

/** Hard links of `src`'s files at `dest` (directories made with their modes, symlinks copied); returns the entries made so far. */
function linkTree(src: string, dest: string, entries: number): number {
  if (++entries > MAX_ENTRIES) throw new Error(`more than ${MAX_ENTRIES} toolchain entries`);
  const st = lstatSync(src);
  if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dest);
  else if (st.isFile()) linkSync(src, dest);
  else if (st.isDirectory()) {
    mkdirSync(dest, { mode: 0o700 });
    for (const name of readdirSync(src)) entries = linkTree(posix.join(src, name), posix.join(dest, name), entries);
    chmodSync(dest, st.mode & 0o7777);
  } else throw new Error(`${src} is not a file, directory or symlink`);
  return entries;
}
