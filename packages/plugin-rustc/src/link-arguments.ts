/** Link options a builder cannot reproduce from a job's inputs: such a crate links on the client. */
import { statSync } from "node:fs";
import { isAbsolute, join } from "node:path";

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
