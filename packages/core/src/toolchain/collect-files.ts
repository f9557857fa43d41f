import { closeSync, openSync, readdirSync, readSync } from "node:fs";
import { ToolchainError } from "./errors.js";
import { elfPlatform } from "./elf.js";
import { LibraryResolver, type LibraryResolverOptions, type MissingLibrary } from "./resolve-libraries.js";
import { ancestors, hostPath, joinPath, walkPath } from "./root-path.js";
import type { Platform, ToolchainEntry, ToolchainSpec } from "./types.js";

/**
 * Turns "these programs, these plugins, these files" into the entries of a
 * toolchain: each program with its loader and every shared library it maps,
 * every symlink met on the way to any of them kept as a symlink (so the
 * compiler runs at the same path, `/usr/bin/gcc -> gcc-12 ->
 * x86_64-linux-gnu-gcc-12`, and `/lib64 -> usr/lib64` on merged-/usr
 * systems), and each file at its real path. Nothing else: no directory is
 * taken whole.
 */

export interface ToolchainFilesInput {
  /** Programs the compiler executes, at the paths it executes them by (driver, cc1, as). Scripts bring their `#!` interpreter. */
  programs: string[];
  /** Shared objects loaded with dlopen (compiler plugins); their libraries come along. */
  libraries?: string[];
  /** Other files read at run time (a specs file, crtbegin.o). */
  files?: string[];
}

export type ToolchainFilesOptions = LibraryResolverOptions;

export interface CollectedToolchain {
  /** Sorted by path; directories above every entry included. */
  entries: ToolchainEntry[];
  /** Libraries no search found (the entries are still returned; `collectToolchainEntries` throws on them). */
  missing: MissingLibrary[];
}

/** Like `collectToolchainEntries`, but reports missing libraries instead of throwing. */
export function collectToolchainFiles(input: ToolchainFilesInput, options: ToolchainFilesOptions = {}): CollectedToolchain {
  const resolver = new LibraryResolver(options);
  const root = resolver.sysroot;
  const entries = new Map<string, ToolchainEntry>();
  const missing: MissingLibrary[] = [];

  const add = (path: string, role: NonNullable<ToolchainEntry["role"]>, required = true): string | undefined => {
    const walk = walkPath(root, path);
    for (const link of walk.links) {
      if (!entries.has(link.path)) entries.set(link.path, { path: link.path, type: "symlink", linkTarget: link.target });
    }
    if (walk.kind === "missing") {
      if (required) throw new ToolchainError(`cannot package ${path}`, `it does not exist${root === "/" ? "" : ` in ${root}`}`);
      return undefined;
    }
    if (walk.kind === "directory") {
      entries.set(walk.resolved, { path: walk.resolved, type: "directory" });
      return walk.resolved;
    }
    if (walk.kind !== "file") throw new ToolchainError(`cannot package ${path}`, `${walk.resolved} is not a regular file`);
    const prev = entries.get(walk.resolved);
    // A program stays a program even when it is also mapped as a library (ld.so is both).
    if (!prev || (prev.role !== "program" && role === "program")) entries.set(walk.resolved, { path: walk.resolved, type: "file", role });
    return walk.resolved;
  };

  const seenPrograms = new Set<string>();
  const addObject = (path: string, role: "program" | "library") => {
    if (seenPrograms.has(path)) return;
    seenPrograms.add(path);
    const real = add(path, role);
    if (!real) return;
    const interp = shebangInterpreter(hostPath(root, real));
    if (interp) {
      addObject(interp, "program");
      return;
    }
    const closure = resolver.closure(path);
    if (closure.interpreter && !closure.missing.some((m) => m.name === closure.interpreter)) add(closure.interpreter, "library");
    for (const lib of closure.libraries) add(lib, "library");
    missing.push(...closure.missing);
  };

  for (const p of input.programs) addObject(p, "program");
  for (const p of input.libraries ?? []) addObject(p, "library");
  for (const p of input.files ?? []) add(p, "data");

  for (const path of [...entries.keys()]) {
    for (const dir of ancestors(path)) {
      const e = entries.get(dir);
      if (!e) entries.set(dir, { path: dir, type: "directory" });
      else if (e.type !== "directory") throw new ToolchainError(`cannot package ${path}`, `${dir} is a ${e.type}, not a directory`);
    }
  }
  return { entries: sortEntries([...entries.values()]), missing };
}

/**
 * The entries of a toolchain made of these programs, plugins and files.
 * Throws a ToolchainError naming every library that cannot be found.
 */
export function collectToolchainEntries(input: ToolchainFilesInput, options: ToolchainFilesOptions = {}): ToolchainEntry[] {
  const { entries, missing } = collectToolchainFiles(input, options);
  if (missing.length) {
    const list = missing.map((m) => `${m.name} (needed by ${m.neededBy})`).join(", ");
    throw new ToolchainError("cannot package the toolchain", `shared libraries not found: ${list}`);
  }
  return entries;
}

/** Sorts entries by path, byte-wise (the order of a toolchain archive). */
export function sortEntries<T extends { path: string }>(entries: T[]): T[] {
  return entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** The `#!` interpreter of a script, or undefined for anything else. */
export function shebangInterpreter(hostFile: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(hostFile, "r");
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n < 3 || buf[0] !== 0x23 || buf[1] !== 0x21) return undefined;
    const line = buf.toString("utf8", 2, n).split("\n")[0]!.trim();
    const interp = line.split(/\s+/)[0];
    return interp && interp.startsWith("/") ? interp : undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * The platforms a toolchain runs on, read from the ELF headers of its
 * programs (entries with role "program"; the compiler path if none is
 * marked). All programs must agree; a toolchain whose programs need different
 * machines runs nowhere (empty list). Undefined if none of them is ELF.
 */
export function programPlatforms(spec: Pick<ToolchainSpec, "entries" | "compilerPath" | "sysroot">): Platform[] | undefined {
  const resolver = new LibraryResolver({ sysroot: spec.sysroot ?? "/", useLdconfig: false });
  const marked = spec.entries.filter((e) => e.type === "file" && e.role === "program").map((e) => e.path);
  const programs = marked.length ? marked : [spec.compilerPath];
  const platforms: Platform[] = [];
  for (const p of programs) {
    const elf = resolver.elf(p);
    if (elf) platforms.push(elfPlatform(elf));
  }
  if (!platforms.length) return undefined;
  const first = platforms[0]!;
  const agree = platforms.every((p) => p.arch === first.arch && p.os === first.os && p.bits === first.bits);
  return agree ? [first] : [];
}

/**
 * The files of compiled glibc locales (`/usr/lib/locale/<name>/...`), for
 * programs whose output depends on the locale's character set: gcc quotes
 * with ‘’ under a UTF-8 locale and with '' when the locale cannot be loaded.
 * Default: C.utf8, which Debian's libc-bin installs and containers use.
 * Missing locales give nothing.
 */
export function localeFiles(names: string[] = ["C.utf8"], options: { sysroot?: string } = {}): string[] {
  const root = options.sysroot ?? "/";
  const out: string[] = [];
  const visit = (dir: string, depth: number) => {
    const walk = walkPath(root, dir);
    if (walk.kind !== "directory" || depth > 4) return;
    let names: string[];
    try {
      names = readdirSync(hostPath(root, walk.resolved)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = joinPath(walk.resolved, n);
      const k = walkPath(root, p, { followFinal: false }).kind;
      if (k === "directory") visit(p, depth + 1);
      else if (k === "file") out.push(p);
    }
  };
  for (const name of names) visit(`/usr/lib/locale/${name}`, 0);
  return out;
}
