import type { CompileInvocation } from "@reprise/core";
import { LINKING_CRATE_TYPES } from "./outputs.js";

/**
 * How a call becomes a job (hermetic mode, the farm). A crate that is linked
 * (program, proc macro, shared library, and so build scripts and tests)
 * needs the client's linker and system libraries: it is a job only for a
 * builder that a descriptor's linker identity selects (`needsRunner`), and
 * never when its link reaches outside the job. A static library stays local
 * (see below). Otherwise the closure
 * scan is the call's own command writing only dep-info, with `-Z binary-dep-depinfo` (allowed on a stable rustc by
 * `RUSTC_BOOTSTRAP=1`, for this scan only) so that the list also names every
 * crate file rustc loads: the `--extern` ones and those it finds in `-L`
 * directories for crates they depend on. The sysroot's files come with the
 * toolchain.
 */
export function jobPlan(o: {
  links: boolean;
  /** Why a linking call's link cannot be reproduced from the job (a linker plugin, a search directory in a link argument). */
  linkRefusal?: string | undefined;
  bundles: boolean;
  types: string[];
  compilerPath: string;
  args: readonly string[];
  sysroot: string;
  tempPath: (suffix: string) => string;
}): Pick<CompileInvocation, "closureScan" | "localOnly" | "needsRunner"> {
  const linked = o.types.filter((t) => LINKING_CRATE_TYPES.has(t)).join(", ");
  if (o.links && o.linkRefusal) return { localOnly: { reason: "links", detail: `crate type ${linked} is linked with ${o.linkRefusal}, which a builder cannot reproduce` } };
  // The scan names the rmeta of a crate found in -L dependency=; a static library bundles every crate's code from its rlib.
  if (o.bundles) return { localOnly: { reason: "bundles", detail: "crate type staticlib bundles the rlibs of every crate it depends on, which the dep-info scan does not name" } };
  const depFile = o.tempPath(".closure.d");
  return {
    // Linking needs the client's linker and system files for the target: only a builder whose linker identity
    // matches (plugin-rustup's descriptor requires it) can link; elsewhere the call stays local.
    ...(o.links ? { needsRunner: { reason: "links", detail: `crate type ${linked} is linked: only a builder with the same linker for the target can link it` } } : {}),
    closureScan: {
      argv: [o.compilerPath, ...withoutEmit(o.args), `--emit=dep-info=${depFile}`, "-Z", "binary-dep-depinfo"],
      depFile,
      setEnv: { RUSTC_BOOTSTRAP: "1" },
      toolchainDirs: [o.sysroot],
      // The scan loads a dependency's metadata only; its link reads the code.
      ...(o.links ? { companions: [{ suffix: ".rmeta", replacement: ".rlib" }] } : {}),
    },
  };
}

/** The arguments without their `--emit` options (a dep-info scan must write nothing else). */
export function withoutEmit(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--emit") i++;
    else if (!a.startsWith("--emit=")) out.push(a);
  }
  return out;
}
