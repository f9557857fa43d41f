/** A Rust toolchain directory on the builder: what it is (`rustc -vV`), its targets, and the files a job needs. */
import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { execa } from "execa";
import { collectToolchainFiles, type ToolchainSpec } from "@reprise/core";
import { compilerLibraries, DirectoryDigests, parseVerboseVersion } from "@reprise/plugin-rustc";
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

/** What a job compiling for `target` with this toolchain runs with. */
export function providedToolchain(tc: RustToolchainDir, target: string): ProvidedToolchain {
  const stdDir = join(tc.sysroot, "lib", "rustlib", target, "lib");
  const std = readdirSync(stdDir).map((n) => join(stdDir, n));
  const { entries, missing } = collectToolchainFiles(
    // rustc's own libraries (a distribution's sysroot is /usr: never every .so of /usr/lib); the loader's search finds the rest.
    { programs: [tc.rustc], libraries: compilerLibraries(tc.sysroot).filter((p) => /^lib(rustc_driver|LLVM|std)-?/.test(basename(p))), files: std },
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
