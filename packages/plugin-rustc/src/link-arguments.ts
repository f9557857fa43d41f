/** Link options a builder cannot reproduce from a job's inputs: such a crate links on the client. */
import { statSync } from "node:fs";
import { isAbsolute } from "node:path";

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
