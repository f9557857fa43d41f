/**
 * The linker rustc calls for a target (`-C linker`, else `cc`) and every file
 * a Rust link reads through it: the driver, collect2/ld/lto-wrapper and the
 * LTO plugin, the crt objects, libc/libgcc and the shared-library stubs std
 * links against (`-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc`), and the files
 * their linker scripts name. Its identity is a digest of the driver's version
 * line and target and of each file's path and content: two machines with the
 * same identity link the same bytes from the same objects. The client puts it
 * into a linking job's requirements; a builder reports the identities it can
 * link with and binds exactly these files into the job's sandbox.
 */
import { createHash } from "node:crypto";
import { createReadStream, openSync, readSync, closeSync, realpathSync, statSync } from "node:fs";
import { delimiter, isAbsolute, resolve } from "node:path";

/** Files a link may read, asked of the driver with `-print-file-name` (those it does not find are left out). */
const LINK_FILES = [
  "crt1.o", "Scrt1.o", "rcrt1.o", "crti.o", "crtn.o",
  "crtbegin.o", "crtbeginS.o", "crtbeginT.o", "crtend.o", "crtendS.o",
  "libc.so", "libc.a", "libc_nonshared.a", "libgcc.a", "libgcc_eh.a", "libgcc_s.so", "libgcc_s.so.1",
  "libm.so", "libm.a", "libpthread.so", "libpthread.a", "libdl.so", "libdl.a", "librt.so", "librt.a", "libutil.so", "libutil.a",
];
/** Programs the driver runs for a link (`-print-prog-name`); ld.lld is rustc's own (`gcc-ld`), part of its toolchain. */
const LINK_PROGRAMS = ["collect2", "ld", "lto-wrapper"];
const LINK_PLUGINS = ["liblto_plugin.so"];

export interface LinkerSetup {
  /** As rustc names it (`cc`, `-C linker=` value). */
  linker: string;
  /** Where it is found on PATH (not resolved through symlinks: the sandbox needs the same names). */
  driver: string;
  versionLine: string;
  machine: string;
  programs: string[];
  libraries: string[];
  files: string[];
  identity: string;
}

/** Why a linker cannot be described (the call then stays local). */
export class LinkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LinkerError";
  }
}

export function findOnPath(name: string, pathEnv: string | undefined, cwd: string): string | undefined {
  if (name.includes("/")) {
    const p = resolve(cwd, name);
    return statSync(p, { throwIfNoEntry: false })?.isFile() ? p : undefined;
  }
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = resolve(cwd, dir, name);
    if (statSync(p, { throwIfNoEntry: false })?.isFile()) return p;
  }
  return undefined;
}

function isElf(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/** Paths a GNU ld script names (`GROUP ( /lib/x86_64-linux-gnu/libc.so.6 … AS_NEEDED ( … ) )`, `-lgcc`, relative names). */
export function linkerScriptNames(text: string): { paths: string[]; names: string[] } {
  const body = text.replace(/\/\*[\s\S]*?\*\//g, " ");
  const paths: string[] = [];
  const names: string[] = [];
  for (const m of body.matchAll(/\b(?:GROUP|INPUT|AS_NEEDED)\s*\(([^)]*)\)/g)) {
    for (const token of m[1]!.split(/[\s,]+/)) {
      if (!token || token === "AS_NEEDED" || token === "(") continue;
      if (token.startsWith("-l")) names.push(`lib${token.slice(2)}.so`, `lib${token.slice(2)}.a`);
      else if (isAbsolute(token)) paths.push(token);
      else names.push(token);
    }
  }
  return { paths, names };
}

function readScript(path: string): string | undefined {
  const st = statSync(path);
  if (st.size > 64 * 1024) return undefined;
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(st.size);
    readSync(fd, b, 0, st.size, 0);
    if (b.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])) || b.subarray(0, 7).toString("latin1") === "!<arch>") return undefined;
    return b.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

async function digestFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/**
 * Asks the driver where the link's files are and digests them. Throws a
 * LinkerError when the linker is not an ELF compiler driver that answers
 * `-print-file-name` (a script, a missing program): its links stay local.
 */
export async function inspectLinker(linker: string, o: { cwd: string; pathEnv: string | undefined }): Promise<LinkerSetup> {
  const driver = findOnPath(linker, o.pathEnv, o.cwd);
  if (!driver) throw new LinkerError(`the linker ${linker} is not on PATH`);
  if (!isElf(realpathSync(driver))) throw new LinkerError(`the linker ${driver} is not a program but a script: what it runs cannot be known`);
  const env = { PATH: o.pathEnv ?? "/usr/bin:/bin", LC_ALL: "C" };
  const ask = async (args: string[]): Promise<string> => {
    // From "/": the call's directory may be gone by now, and the answers do not depend on it.
    // Loaded when first run: ~100 modules that a daemon's start need not pay for.
    const { execa } = await import("execa");
    const r = await execa(driver, args, { env, extendEnv: false, reject: false, timeout: 30_000, cwd: "/" });
    if (r.exitCode !== 0) throw new LinkerError(`${driver} ${args.join(" ")} failed: ${(r.stderr || r.stdout).split("\n")[0]}`);
    return r.stdout.trim();
  };
  const [versionOut, machine] = await Promise.all([ask(["--version"]), ask(["-dumpmachine"])]);
  const versionLine = versionOut.split("\n")[0]!;
  const found = async (flag: "file" | "prog", name: string): Promise<string | undefined> => {
    const p = await ask([`-print-${flag}-name=${name}`]);
    if (!isAbsolute(p)) return flag === "prog" && name === "ld" ? findOnPath(p, o.pathEnv, o.cwd) : undefined;
    const abs = resolve(p);
    return statSync(abs, { throwIfNoEntry: false })?.isFile() ? abs : undefined;
  };
  const programs = new Set<string>([driver]);
  const libraries = new Set<string>();
  const files = new Set<string>();
  for (const p of await Promise.all(LINK_PROGRAMS.map((n) => found("prog", n)))) if (p) programs.add(p);
  // gcc finds its LTO plugin among its programs (libexec) or its files (lib), depending on how it was built.
  for (const p of await Promise.all(LINK_PLUGINS.map(async (n) => (await found("prog", n)) ?? (await found("file", n))))) if (p) libraries.add(p);
  const queue = (await Promise.all(LINK_FILES.map((n) => found("file", n)))).filter((p): p is string => !!p);
  const askedNames = new Set(LINK_FILES);
  while (queue.length) {
    const f = queue.shift()!;
    if (files.has(f)) continue;
    files.add(f);
    const script = readScript(f);
    if (!script) continue;
    const named = linkerScriptNames(script);
    for (const p of named.paths) if (statSync(p, { throwIfNoEntry: false })?.isFile()) queue.push(resolve(p));
    for (const n of named.names.filter((n) => !askedNames.has(n))) {
      askedNames.add(n);
      const p = await found("file", n);
      if (p) queue.push(p);
    }
  }
  const setup = { linker, driver, versionLine, machine, programs: [...programs].sort(), libraries: [...libraries].sort(), files: [...files].sort() };
  return { ...setup, identity: await identityOf(setup) };
}

async function identityOf(s: Omit<LinkerSetup, "identity">): Promise<string> {
  const h = createHash("sha256");
  h.update(`reprise-linker-1\0${s.linker}\0${s.driver}\0${s.versionLine}\0${s.machine}\0`);
  for (const path of [...new Set([...s.programs, ...s.libraries, ...s.files])].sort()) {
    // Content through every symlink, the name as the link sees it.
    h.update(`${path}\0${await digestFile(path)}\0`);
  }
  return h.digest("hex").slice(0, 32);
}

/** Size, mtime and inode of every file of a setup (through symlinks): a package upgrade changes one. */
function stampOf(s: LinkerSetup): string {
  return [...s.programs, ...s.libraries, ...s.files]
    .map((p) => {
      const st = statSync(p, { throwIfNoEntry: false });
      return st ? `${st.size}:${st.mtimeMs}:${st.ino}` : "missing";
    })
    .join(",");
}

/**
 * Memo of linker setups per (linker, PATH, cwd for a relative linker), taken
 * again when any of its files changed (a stat of each). Only misses ask: the
 * hit path never links.
 */
export class LinkerSetups {
  private readonly memo = new Map<string, { setup: Promise<LinkerSetup>; done?: { setup: LinkerSetup; stamp: string } }>();

  get(linker: string, o: { cwd: string; pathEnv: string | undefined }): Promise<LinkerSetup> {
    const key = `${linker}\0${o.pathEnv ?? ""}\0${linker.includes("/") ? o.cwd : ""}`;
    const hit = this.memo.get(key);
    if (hit && (!hit.done || stampOf(hit.done.setup) === hit.done.stamp)) return hit.setup;
    const entry: { setup: Promise<LinkerSetup>; done?: { setup: LinkerSetup; stamp: string } } = { setup: inspectLinker(linker, o) };
    this.memo.set(key, entry);
    entry.setup.then(
      (setup) => (entry.done = { setup, stamp: stampOf(setup) }),
      () => this.memo.get(key) === entry && this.memo.delete(key),
    );
    return entry.setup;
  }
}
