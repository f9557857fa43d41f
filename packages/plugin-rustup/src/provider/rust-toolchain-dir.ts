/** A Rust toolchain directory on the builder: what it is (`rustc -vV`), its targets, and the files a job needs. */
import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { collectToolchainFiles, type ToolchainSpec } from "@reprise/core";
import { compilerLibraries, DirectoryDigests, parseVerboseVersion, type LinkerSetup } from "@reprise/plugin-rustc";
import type { ProvidedToolchain } from "./types.js";
import { ProvideError } from "./types.js";

export interface RustToolchainDir {
  /** The directory holding bin/rustc and lib/rustlib. */
  sysroot: string;
  rustc: string;
  release: string;
  commitHash: string;
  host: string;
  /** Libraries rustc needs from its own lib/ (set as LD_LIBRARY_PATH: a distribution's build has no RUNPATH). */
  libraryPath: string[];
}

/** Reads `rustc -vV` of the rustc in `sysroot` (or `rustc` given), with its lib/ on LD_LIBRARY_PATH as rustup's proxy does. */
export async function inspectToolchain(sysroot: string, rustc = join(sysroot, "bin", "rustc"), libraryPath = [join(sysroot, "lib")]): Promise<RustToolchainDir> {
  const { execa } = await import("execa");
  const r = await execa(rustc, ["-vV"], { env: { LD_LIBRARY_PATH: libraryPath.join(":") }, reject: false, timeout: 30_000 });
  const v = r.exitCode === 0 ? parseVerboseVersion(r.stdout) : undefined;
  if (!v) throw new ProvideError("install-failed", `${rustc} -vV failed: ${(r.stderr || r.stdout).split("\n")[0]}`);
  return { sysroot, rustc, release: v.release, commitHash: v.commitHash, host: v.host, libraryPath };
}

/** Target triples whose std this toolchain holds. */
export function stdTargets(sysroot: string): string[] {
  const rustlib = join(sysroot, "lib", "rustlib");
  try {
    return readdirSync(rustlib)
      .filter((t) => existsSync(join(rustlib, t, "lib")))
      .sort();
  } catch {
    return [];
  }
}

export async function stdDigestOf(digests: DirectoryDigests, sysroot: string, target: string): Promise<string | undefined> {
  const d = await digests.digest(join(sysroot, "lib", "rustlib", target, "lib"));
  return d === "missing" ? undefined : d;
}

/** Every file under `dir` (rustc's host tools: rust-lld, gcc-ld/ld.lld), or none when it does not exist. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/**
 * What a job compiling for `target` with this toolchain runs with; with a
 * `linker`, also what a link needs: rustc's host tools (`rust-lld` and the
 * `gcc-ld` wrappers it links through) and the linker's driver, programs,
 * crt objects and libraries, at their paths.
 */
export function providedToolchain(tc: RustToolchainDir, target: string, linker?: LinkerSetup): ProvidedToolchain {
  const stdDir = join(tc.sysroot, "lib", "rustlib", target, "lib");
  const std = readdirSync(stdDir).map((n) => join(stdDir, n));
  const hostTools = linker ? filesUnder(join(tc.sysroot, "lib", "rustlib", tc.host, "bin")) : [];
  const { entries, missing } = collectToolchainFiles(
    // rustc's own libraries (a distribution's sysroot is /usr: never every .so of /usr/lib); the loader's search finds the rest.
    {
      programs: [tc.rustc, ...hostTools, ...(linker?.programs ?? [])],
      libraries: [...compilerLibraries(tc.sysroot).filter((p) => /^lib(rustc_driver|LLVM|std)-?/.test(basename(p))), ...(linker?.libraries ?? [])],
      files: [...std, ...(linker?.files ?? [])],
    },
    { ldLibraryPath: tc.libraryPath },
  );
  if (missing.length) throw new ProvideError("install-failed", `${tc.rustc} needs libraries not found here: ${missing.map((m) => m.name).join(", ")}`);
  const spec: ToolchainSpec = { entries, compilerPath: tc.rustc, family: "rustc", version: tc.release, identity: `${tc.release}:${tc.commitHash}`, target };
  return {
    spec,
    program: tc.rustc,
    env: { LD_LIBRARY_PATH: tc.libraryPath.join(":") },
    adaptArgv: (argv) => (argv.some((a) => a === "--target" || a.startsWith("--target=")) ? [...argv] : [...argv, "--target", target]),
  };
}
