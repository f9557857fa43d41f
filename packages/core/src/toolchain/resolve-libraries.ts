import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { posix } from "node:path";
import { DF_1_NODEFLIB, elfArch, elfCompatible, multiarchTuples, readElf, type ElfInfo } from "./elf.js";
import { hostPath, joinPath, pathComponents, walkPath } from "./root-path.js";

/**
 * The dynamic loader's search, done ahead of time: which files a program
 * loads (its interpreter and every shared library, transitively), found the
 * way glibc's ld.so finds them:
 *
 *  1. DT_RPATH of the requesting object, then of the object that loaded it,
 *     and so on up to the program — only when the requester has no DT_RUNPATH
 *     (an object with both has its DT_RPATH ignored);
 *  2. LD_LIBRARY_PATH (only if given in the options);
 *  3. DT_RUNPATH of the requesting object;
 *  4. the loader's cache (`ldconfig -p` for this machine; for a sysroot, the
 *     directories of its /etc/ld.so.conf and the files it includes);
 *  5. the default directories: /lib/<multiarch>, /usr/lib/<multiarch>,
 *     /lib64 and /usr/lib64 (64-bit), /lib, /usr/lib.
 *
 * Steps 4 and 5 are skipped for a requester flagged DF_1_NODEFLIB. `$ORIGIN`,
 * `$LIB` and `$PLATFORM` (also `${...}`) are expanded; relative directories
 * are ignored, as ld.so ignores them for anything but the current directory.
 * A candidate is taken only if it is an ELF object of the requester's class,
 * byte order and machine (the loader skips others). A name already loaded
 * (by DT_NEEDED name, soname or file) is not searched again.
 *
 * Everything is resolved inside `sysroot` (default "/"), so the closure of a
 * foreign-architecture program can be computed from an unpacked root.
 * Not modelled: glibc-hwcaps subdirectories, LD_PRELOAD, dlopen() calls made
 * at run time (pass such objects as roots of their own closure).
 */

export interface LibraryResolverOptions {
  /** Root the programs and their libraries live in; "/" for this machine. */
  sysroot?: string;
  /** Directories as LD_LIBRARY_PATH would give them (none by default: the job's environment decides). */
  ldLibraryPath?: string[];
  /** Use `ldconfig -p` for the loader's cache. Default: only when `sysroot` is "/". Otherwise ld.so.conf is read. */
  useLdconfig?: boolean;
}

export interface MissingLibrary {
  name: string;
  neededBy: string;
}

export interface ProgramClosure {
  /** The program (or shared object) the closure starts from, as given. */
  program: string;
  /** PT_INTERP as written in the program (e.g. /lib64/ld-linux-x86-64.so.2). */
  interpreter?: string;
  /** Every path the loader opens, in load order (paths as found, symlinks not followed). */
  libraries: string[];
  /** DT_NEEDED names no search found. */
  missing: MissingLibrary[];
}

interface LoadedObject {
  /** Path the loader opened. */
  path: string;
  /** The same with symlinks followed. */
  resolved: string;
  elf: ElfInfo;
  /** $ORIGIN for this object. */
  origin: string;
  loader?: LoadedObject;
}

export class LibraryResolver {
  readonly sysroot: string;
  private readonly ldLibraryPath: string[];
  private readonly useLdconfig: boolean;
  private readonly elfCache = new Map<string, ElfInfo | null>();
  private ldCache?: { byName: Map<string, string[]> } | { dirs: string[] };

  constructor(options: LibraryResolverOptions = {}) {
    this.sysroot = options.sysroot ?? "/";
    this.ldLibraryPath = options.ldLibraryPath ?? [];
    this.useLdconfig = options.useLdconfig ?? this.sysroot === "/";
  }

  /** The ELF information of a file inside the sysroot (symlinks followed); undefined if it is not ELF or absent. */
  elf(path: string): ElfInfo | undefined {
    const walk = walkPath(this.sysroot, path);
    if (walk.kind !== "file") return undefined;
    return this.elfAt(walk.resolved);
  }

  private elfAt(resolved: string): ElfInfo | undefined {
    let info = this.elfCache.get(resolved);
    if (info === undefined) {
      try {
        info = readElf(hostPath(this.sysroot, resolved)) ?? null;
      } catch {
        info = null;
      }
      this.elfCache.set(resolved, info);
    }
    return info ?? undefined;
  }

  /**
   * What the loader opens to run `program`: its interpreter and its libraries.
   * Also right for a shared object loaded with dlopen (the closure then starts from it).
   */
  closure(program: string): ProgramClosure {
    const walk = walkPath(this.sysroot, program);
    if (walk.kind !== "file") throw new Error(`${program}: not found${this.sysroot === "/" ? "" : ` in ${this.sysroot}`}`);
    const elf = this.elfAt(walk.resolved);
    const result: ProgramClosure = { program, libraries: [], missing: [] };
    if (!elf) return result;
    // ld.so takes $ORIGIN of the program from /proc/self/exe: symlinks followed.
    const root: LoadedObject = { path: program, resolved: walk.resolved, elf, origin: posix.dirname(walk.resolved) };
    const byName = new Map<string, LoadedObject>();
    const byFile = new Map<string, LoadedObject>();
    const opened = new Set<string>();
    byFile.set(root.resolved, root);
    const remember = (obj: LoadedObject, name?: string) => {
      if (name) byName.set(name, obj);
      byName.set(obj.path, obj);
      if (obj.elf.soname) byName.set(obj.elf.soname, obj);
      byFile.set(obj.resolved, obj);
    };
    if (elf.interpreter) {
      result.interpreter = elf.interpreter;
      const iw = walkPath(this.sysroot, elf.interpreter);
      const ielf = iw.kind === "file" ? this.elfAt(iw.resolved) : undefined;
      if (!ielf) result.missing.push({ name: elf.interpreter, neededBy: program });
      else remember({ path: elf.interpreter, resolved: iw.resolved, elf: ielf, origin: posix.dirname(elf.interpreter) });
    }
    // Breadth first, as ld.so maps dependencies.
    const queue: LoadedObject[] = [root];
    while (queue.length) {
      const obj = queue.shift()!;
      for (const name of obj.elf.needed) {
        if (byName.has(name)) continue;
        const found = this.search(name, obj);
        if (!found) {
          result.missing.push({ name, neededBy: obj.path });
          continue;
        }
        if (!opened.has(found.path)) {
          opened.add(found.path);
          result.libraries.push(found.path);
        }
        const same = byFile.get(found.resolved);
        if (same) {
          byName.set(name, same);
          continue;
        }
        const lib: LoadedObject = { ...found, origin: posix.dirname(found.path), loader: obj };
        remember(lib, name);
        queue.push(lib);
      }
    }
    return result;
  }

  private search(name: string, requester: LoadedObject): { path: string; resolved: string; elf: ElfInfo } | undefined {
    if (name.includes("/")) return name.startsWith("/") ? this.candidate(name, requester) : undefined;
    const dirs: string[] = [];
    if (requester.elf.runpath.length === 0) {
      for (let l: LoadedObject | undefined = requester; l; l = l.loader) dirs.push(...this.expand(l.elf.rpath, l));
    }
    dirs.push(...this.ldLibraryPath);
    dirs.push(...this.expand(requester.elf.runpath, requester));
    for (const dir of dirs) {
      const hit = this.candidate(joinPath(dir, name), requester);
      if (hit) return hit;
    }
    if (requester.elf.flags1 & DF_1_NODEFLIB) return undefined;
    const cache = this.cache();
    const cached = "byName" in cache ? (cache.byName.get(name) ?? []) : cache.dirs.map((d) => joinPath(d, name));
    for (const path of cached) {
      const hit = this.candidate(path, requester);
      if (hit) return hit;
    }
    for (const dir of this.defaultDirs(requester.elf)) {
      const hit = this.candidate(joinPath(dir, name), requester);
      if (hit) return hit;
    }
    return undefined;
  }

  private candidate(path: string, requester: LoadedObject): { path: string; resolved: string; elf: ElfInfo } | undefined {
    const walk = walkPath(this.sysroot, path);
    if (walk.kind !== "file") return undefined;
    const elf = this.elfAt(walk.resolved);
    if (!elf || !elfCompatible(elf, requester.elf)) return undefined;
    return { path, resolved: walk.resolved, elf };
  }

  /** Expands $ORIGIN, $LIB and $PLATFORM; drops relative directories. */
  private expand(dirs: string[], obj: LoadedObject): string[] {
    const out: string[] = [];
    for (const dir of dirs) {
      const expanded = dir.replace(/\$(\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))/g, (_m, _a, braced: string | undefined, bare: string | undefined) => {
        const token = braced ?? bare;
        if (token === "ORIGIN") return obj.origin;
        if (token === "LIB") return this.libToken(obj.elf);
        return platformToken(obj.elf);
      });
      if (expanded.startsWith("/")) out.push(expanded);
    }
    return out;
  }

  /** `$LIB`: Debian's ld.so expands it to lib/<multiarch>; others to lib64 or lib. Chosen by what exists in the root. */
  private libToken(elf: ElfInfo): string {
    for (const tuple of multiarchTuples(elf)) {
      if (walkPath(this.sysroot, `/lib/${tuple}`).kind === "directory") return `lib/${tuple}`;
    }
    if (elf.bits === 64 && walkPath(this.sysroot, "/lib64").kind === "directory" && walkPath(this.sysroot, "/usr/lib64").kind === "directory") return "lib64";
    return "lib";
  }

  private defaultDirs(elf: ElfInfo): string[] {
    const dirs: string[] = [];
    for (const tuple of multiarchTuples(elf)) dirs.push(`/lib/${tuple}`, `/usr/lib/${tuple}`);
    if (elf.bits === 64) dirs.push("/lib64", "/usr/lib64");
    dirs.push("/lib", "/usr/lib");
    return dirs;
  }

  private cache(): { byName: Map<string, string[]> } | { dirs: string[] } {
    if (!this.ldCache) {
      const byName = this.useLdconfig ? readLdconfigCache() : undefined;
      this.ldCache = byName ? { byName } : { dirs: readLdSoConf(this.sysroot) };
    }
    return this.ldCache;
  }
}

function platformToken(elf: ElfInfo): string {
  // AT_PLATFORM as the kernel reports it for the common machines.
  const arch = elfArch(elf);
  if (arch === "i386") return "i686";
  if (arch === "arm") return "v7l";
  return arch;
}

const LDCONFIG_CANDIDATES = ["/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"];

/** This machine's loader cache, from `ldconfig -p`: library name → paths in cache order. Undefined if ldconfig cannot be run. */
export function readLdconfigCache(): Map<string, string[]> | undefined {
  for (const cmd of LDCONFIG_CANDIDATES) {
    let text: string;
    try {
      text = execFileSync(cmd, ["-p"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000, maxBuffer: 64 * 1024 * 1024, env: { LC_ALL: "C", PATH: "/usr/sbin:/sbin:/usr/bin:/bin" } });
    } catch {
      continue;
    }
    return parseLdconfigOutput(text);
  }
  return undefined;
}

/** Parses `ldconfig -p` ("\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1"). */
export function parseLdconfigOutput(text: string): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^\s+(\S+)\s+\(([^)]*)\)\s+=>\s+(\/.*\S)\s*$/.exec(line);
    if (!m) continue;
    const list = byName.get(m[1]!) ?? [];
    list.push(m[3]!);
    byName.set(m[1]!, list);
  }
  return byName;
}

/**
 * The directories listed by `/etc/ld.so.conf` inside `root`, following
 * `include` lines (globs, relative to the including file's directory).
 */
export function readLdSoConf(root: string, file = "/etc/ld.so.conf", seen = new Set<string>()): string[] {
  const walk = walkPath(root, file);
  if (walk.kind !== "file" || seen.has(walk.resolved)) return [];
  seen.add(walk.resolved);
  let text: string;
  try {
    text = readFileSync(hostPath(root, walk.resolved), "utf8");
  } catch {
    return [];
  }
  const dirs: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const inc = /^include\s+(.+)$/.exec(line);
    if (inc) {
      for (const pattern of inc[1]!.split(/\s+/)) {
        const abs = pattern.startsWith("/") ? pattern : joinPath(posix.dirname(file), pattern);
        for (const f of globInRoot(root, abs)) dirs.push(...readLdSoConf(root, f, seen));
      }
      continue;
    }
    if (/^hwcap\s/.test(line)) continue;
    for (const word of line.split(/[\s:,]+/)) {
      const dir = word.replace(/=.*$/, "");
      if (dir.startsWith("/") && !dirs.includes(dir)) dirs.push(dir);
    }
  }
  return dirs;
}

/** Expands `*`, `?` and `[...]` in an absolute path inside `root`; sorted, as glob(3) returns them. */
export function globInRoot(root: string, pattern: string): string[] {
  let paths = ["/"];
  for (const comp of pathComponents(pattern)) {
    if (!/[*?[]/.test(comp)) {
      paths = paths.map((p) => joinPath(p, comp));
      continue;
    }
    const re = globRegExp(comp);
    const next: string[] = [];
    for (const p of paths) {
      const walk = walkPath(root, p);
      if (walk.kind !== "directory") continue;
      let names: string[];
      try {
        names = readdirSync(hostPath(root, walk.resolved));
      } catch {
        continue;
      }
      for (const name of names.sort()) if (re.test(name) && !(name.startsWith(".") && !comp.startsWith("."))) next.push(joinPath(p, name));
    }
    paths = next;
  }
  return paths.filter((p) => walkPath(root, p).kind !== "missing").sort();
}

function globRegExp(comp: string): RegExp {
  let re = "^";
  for (let i = 0; i < comp.length; i++) {
    const c = comp[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = comp.indexOf("]", i + 1);
      if (end === -1) re += "\\[";
      else {
        const body = comp.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(re + "$");
}
