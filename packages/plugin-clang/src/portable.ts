/**
 * clang across architectures (docs/cross-arch.md): clang is a cross compiler
 * by nature, so a build of the same clang release on another host, given an
 * explicit `--target`, compiles a job exactly as this one does. What makes it
 * safe is the equivalence value both sides compute:
 * - the version text without the host-dependent lines (`Target:`,
 *   `InstalledDir:`): release, vendor and build (e.g. "Debian clang version
 *   14.0.6"), thread model;
 * - the path clang is called at (argv[0] decides the paths it writes into
 *   debug info);
 * - the target triple;
 * - the digest of a canary object: a small C file compiled for the target at
 *   `-O2 -g` by that very binary. Two builds that differ in what they write
 *   (a distribution's patches, a different `.comment`, another DWARF
 *   producer, other default flags) give other canaries, so they never match
 *   even when their version lines do.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { createHash } from "node:crypto";
import type { CompilerInfo, PortableToolchain } from "@reprise/core";
import { canaryDigest, localRunner } from "@reprise/plugin-gcc";
import { gccInstallationFiles } from "./toolchain.js";

/**
 * The parts of clang's version text that do not name this host: the version
 * line (release, vendor and build) and the thread model. Not `Target:`,
 * `InstalledDir:` or what `-v` says about GCC installations found here.
 */
export function hostIndependentVersion(versionText: string): string {
  const lines = versionText.split("\n").map((l) => l.trim());
  const version = lines.find((l) => /clang version /.test(l)) ?? "";
  const threads = lines.find((l) => l.startsWith("Thread model:")) ?? "";
  return [version, threads].filter(Boolean).join("\n");
}

/** The equivalence value of a clang at `compiler.path` for `target` (see the file's comment). */
export async function clangEquivalence(compiler: Pick<CompilerInfo, "path" | "versionText">, target: string): Promise<string> {
  const canary = await canaryDigest(compiler.path, [`--target=${target}`]);
  const material = JSON.stringify({ family: "clang", version: hostIndependentVersion(compiler.versionText), path: compiler.path, target, canary });
  return createHash("sha256").update(material).digest("hex");
}

/**
 * How another host's build of this clang compiles its jobs for `target`:
 * with `--target=<target>` inserted after argv[0] (a later `--target` of the
 * user's own still wins), carrying the crtbegin.o files that make clang
 * select the same GCC installation (and so libstdc++'s headers) as here.
 */
export async function clangPortableToolchain(compiler: CompilerInfo, target: string): Promise<PortableToolchain> {
  const verbose = await localRunner(compiler.path)(["-v"]);
  return {
    equivalence: await clangEquivalence(compiler, target),
    targetArgs: [`--target=${target}`],
    files: gccInstallationFiles(`${verbose.stderr}\n${verbose.stdout}`).map((f) => resolve(f)).filter((f) => existsSync(f)),
  };
}
