/** Crate types rustc knows, and which of them invoke the linker. */
export const CRATE_TYPES = new Set(["bin", "lib", "rlib", "dylib", "cdylib", "staticlib", "proc-macro"]);
export const LINKING_CRATE_TYPES = new Set(["bin", "dylib", "cdylib", "proc-macro"]);

/** How a target names linked files, as far as this plugin knows it. */
export type ObjectFormat = "elf" | "macho" | "windows-msvc" | "windows-gnu" | "other";

const ELF_OS = /-(linux|android|androideabi|freebsd|netbsd|openbsd|dragonfly|solaris|illumos|haiku|fuchsia|redox|hurd|l4re|nto|vxworks)(-|$)/;

export function objectFormat(target: string): ObjectFormat {
  if (/-(apple|darwin)(-|$)|-ios|-tvos|-watchos|-visionos/.test(target)) return "macho";
  if (/-windows-msvc/.test(target)) return "windows-msvc";
  if (/-windows-gnu/.test(target)) return "windows-gnu";
  if (ELF_OS.test(target)) return "elf";
  return "other";
}

/**
 * The file `--emit=link` writes in the out dir for one crate type, named as
 * rustc names it: `lib<name><extra>.rlib`, `.a`, `.so`, `<name><extra>` for a
 * program. Undefined where this plugin does not know every file rustc writes
 * (Windows import libraries and PDBs, macOS `.dSYM` bundles, wasm's extra
 * files), so the call is not cached.
 */
export function linkOutputName(crateType: string, stem: string, target: string): string | undefined {
  const format = objectFormat(target);
  switch (crateType) {
    case "lib":
    case "rlib":
      return `lib${stem}.rlib`;
    case "staticlib":
      if (format === "windows-msvc") return `${stem}.lib`;
      return format === "other" ? undefined : `lib${stem}.a`;
    case "dylib":
    case "cdylib":
    case "proc-macro":
      return format === "elf" ? `lib${stem}.so` : undefined;
    case "bin":
      return format === "elf" ? stem : undefined;
    default:
      return undefined;
  }
}

/** `--emit=metadata` always writes `lib<name><extra>.rmeta`, whatever the crate type. */
export function metadataName(stem: string): string {
  return `lib${stem}.rmeta`;
}

export function depInfoName(stem: string): string {
  return `${stem}.d`;
}
