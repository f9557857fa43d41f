/** Link arguments: what a builder cannot reproduce (such a crate links on the client), and the files a link reads. */
import { readdirSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";

/** `-C` options whose link depends on more than the linker, its system files and the job's inputs. */
export const UNPORTABLE_LINK_OPTIONS = new Set(["linker-plugin-lto", "linker-flavor", "link-self-contained", "linker-features"]);

/**
 * A link argument that reaches outside the job's inputs: a search or tool
 * directory (`-L`, `-B`, `--sysroot`, `-plugin`), another linker than the
 * identity names (`-fuse-ld=`, `--ld-path=`), or a path that is not a
 * regular file (files are carried as inputs).
 */
export function unportableLinkArg(args: readonly string[]): string | undefined {
  for (const a of args) {
    const parts = a.startsWith("-Wl,") ? a.slice(4).split(",") : [a];
    for (const p of parts) {
      if (/^(-L|-B|--sysroot|-plugin|--plugin|-fplugin|-fuse-ld=|--ld-path=|-specs|--specs|-T$|--library-path)/.test(p)) return `-C link-arg=${a}`;
      const value = p.slice(Math.max(p.lastIndexOf("="), 0) + (p.includes("=") ? 1 : 0));
      if (isAbsolute(value) && !statSync(value, { throwIfNoEntry: false })?.isFile()) return `-C link-arg=${a}`;
    }
  }
  return undefined;
}

/** Libraries every Rust link on Linux names, which a linker identity covers (crt, libc, libgcc and their stubs). */
const LINKER_OWN = new Set(["c", "m", "dl", "rt", "pthread", "util", "gcc", "gcc_s", "gcc_eh"]);

/**
 * A `-l` library the link would find only in the system's directories (not in
 * a `-L native=`/`-L all=` one, whose files travel): another machine's
 * sandbox holds only the linker's own libraries (`-lz` from
 * `cargo:rustc-link-lib=z` would be missing there).
 */
export function systemLibrary(nativeDirs: readonly string[], libs: readonly { kind: string; name: string }[]): string | undefined {
  for (const lib of libs) {
    if (lib.kind === "framework" || LINKER_OWN.has(lib.name)) continue;
    const names = lib.kind === "static" ? [`lib${lib.name}.a`] : [`lib${lib.name}.so`, `lib${lib.name}.a`];
    if (!nativeDirs.some((d) => names.some((n) => statSync(join(d, n), { throwIfNoEntry: false })?.isFile()))) return `-l ${lib.kind === "dylib" ? "" : `${lib.kind}=`}${lib.name} (a system library)`;
  }
  return undefined;
}

/** At most this many static archives of one native search directory are hashed wholesale. */
const MAX_ARCHIVES_PER_DIR = 64;

/**
 * The native libraries a compile may read from `-L native=`/`-L all=`
 * directories: each `-l` name as the linker would find it, and every static
 * archive in those directories (a `#[link(kind = "static")]` in the source
 * names one the command line does not). System directories found through
 * the linker's own search are not hashed.
 */
export function nativeLibraryFiles(dirs: readonly string[], libs: readonly { kind: string; name: string }[]): string[] {
  const found = new Set<string>();
  for (const lib of libs) {
    const names =
      lib.kind === "static"
        ? [`lib${lib.name}.a`, `${lib.name}.lib`]
        : lib.kind === "framework"
          ? [join(`${lib.name}.framework`, lib.name)]
          : [`lib${lib.name}.so`, `lib${lib.name}.dylib`, `lib${lib.name}.a`, `${lib.name}.lib`, `${lib.name}.dll`];
    search: for (const dir of dirs) {
      for (const n of names) {
        const p = join(dir, n);
        if (statSync(p, { throwIfNoEntry: false })?.isFile()) {
          found.add(p);
          break search;
        }
      }
    }
  }
  for (const dir of new Set(dirs)) {
    let entries: string[];
    try {
      entries = readdirSync(dir).filter((n) => n.endsWith(".a") || n.endsWith(".lib"));
    } catch {
      continue;
    }
    if (entries.length > MAX_ARCHIVES_PER_DIR) continue;
    for (const n of entries.sort()) {
      const p = join(dir, n);
      if (statSync(p, { throwIfNoEntry: false })?.isFile()) found.add(p);
    }
  }
  return [...found];
}

/**
 * Files that link arguments name: a whole argument (`-C link-arg=foo.o`) or
 * the value after the last `=` or `,` (`-Wl,--version-script=v.map`), when
 * it is an existing regular file.
 */
export function linkArgFiles(args: readonly string[], cwd: string): string[] {
  const out: string[] = [];
  for (const a of args) {
    const candidates = new Set([a, a.slice(Math.max(a.lastIndexOf("="), a.lastIndexOf(",")) + 1)]);
    for (const c of candidates) {
      if (!c || c.startsWith("-")) continue;
      const p = resolve(cwd, c);
      if (statSync(p, { throwIfNoEntry: false })?.isFile()) out.push(p);
    }
  }
  return out;
}
