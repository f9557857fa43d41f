import { readdirSync } from "node:fs";
import { join } from "node:path";
import { collectToolchainEntries, programPlatforms, type CompilerInfo, type Platform, type ToolchainSpec } from "@reprise/core";
import { rustcData } from "./detect.js";

/** Every regular file below `dir` (recursively), sorted; nothing when it does not exist. */
export function filesBelow(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesBelow(p));
    else if (e.isFile() || e.isSymbolicLink()) out.push(p);
  }
  return out.sort();
}

/** The targets whose standard library the sysroot holds (`lib/rustlib/<target>/lib`). */
export function installedTargets(sysroot: string): string[] {
  const rustlib = join(sysroot, "lib", "rustlib");
  try {
    return readdirSync(rustlib, { withFileTypes: true })
      .filter((e) => e.isDirectory() && filesBelow(join(rustlib, e.name, "lib")).length > 0)
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/**
 * What makes a rustc runnable elsewhere for the compiles a job does (crates
 * that are not linked): the toolchain's own `bin/rustc` (a rustup proxy
 * resolved to the toolchain it runs), its loader and shared libraries
 * (`librustc_driver`, LLVM, found through its run path), the standard library
 * of every target the sysroot holds and its codegen backends, all at their own
 * paths so rustc finds its sysroot as it does here. Not the linker nor
 * `rust-lld` (jobs do not link), not sources (jobs carry them).
 */
export function rustcToolchainSpec(compiler: CompilerInfo): ToolchainSpec {
  const data = rustcData(compiler);
  if (!data) throw new Error(`${compiler.path}: rustc detection data missing`);
  const program = data.proxy ? data.rustcPath : compiler.path;
  const rustlib = join(data.sysroot, "lib", "rustlib");
  const files = [
    ...installedTargets(data.sysroot).flatMap((t) => filesBelow(join(rustlib, t, "lib"))),
    ...filesBelow(join(rustlib, data.host, "codegen-backends")),
  ];
  const entries = collectToolchainEntries({ programs: [program], files });
  return {
    entries,
    compilerPath: program,
    family: compiler.family,
    version: compiler.version,
    identity: compiler.identity,
    target: data.host,
  };
}

/** The machines that can run a rustc toolchain: from the ELF headers of its programs, never from this host. */
export function rustcToolchainPlatforms(spec: ToolchainSpec): Platform[] | undefined {
  return programPlatforms(spec);
}
