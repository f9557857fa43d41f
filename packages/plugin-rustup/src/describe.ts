/**
 * The client's side: a descriptor for the rustc of a miss. A rustup-managed
 * toolchain (its sysroot has rustup's `lib/rustlib/components`) always gets
 * one; any other rustc (a distribution's /usr/bin/rustc) only when the
 * plugin is told to (`anyRustc`), since builders must then hold the very same
 * build, declared in their config.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { CompileInvocation, CompilerInfo, Platform, ToolchainDescriptor } from "@reprise/core";
import { DirectoryDigests, LinkerSetups, rustcCallOf, rustcData } from "@reprise/plugin-rustc";
import { linkCapability, toToolchainDescriptor } from "./descriptor.js";

/** Whether rustup installed the toolchain at `sysroot`. */
export function isRustupToolchain(sysroot: string): boolean {
  return existsSync(join(sysroot, "lib", "rustlib", "components")) && existsSync(join(sysroot, "lib", "rustlib", "multirust-channel-manifest.toml"));
}

/** The digest of `<sysroot>/lib/rustlib/<target>/lib`, or undefined when that directory does not exist. */
export async function stdDigest(digests: DirectoryDigests, sysroot: string, target: string): Promise<string | undefined> {
  const d = await digests.digest(join(sysroot, "lib", "rustlib", target, "lib"));
  return d === "missing" ? undefined : d;
}

export async function describeRustcMiss(
  compiler: CompilerInfo,
  invocation: CompileInvocation,
  digests: DirectoryDigests,
  options: { anyRustc: boolean; linkers: LinkerSetups },
): Promise<ToolchainDescriptor | undefined> {
  if (compiler.family !== "rustc") return undefined;
  const data = rustcData(compiler);
  const call = rustcCallOf(invocation);
  if (!data || !call) return undefined;
  if (!options.anyRustc && !isRustupToolchain(data.sysroot)) return undefined;
  // A custom target (a JSON spec file) cannot be matched by a builder. A rustc that does not know its commit (a
  // distribution's build, e.g. Debian's) is matched by release and std digest, so only when told to (anyRustc).
  if (call.target.endsWith(".json") || call.target.includes("/") || (data.commitHash === "unknown" && !options.anyRustc)) return undefined;
  const digest = await stdDigest(digests, call.sysroot, call.target);
  if (!digest) return undefined;
  let requires: string[] = [];
  if (call.links) {
    // A linker that cannot be described (a script, not on PATH) gets no descriptor: the crate links here.
    if (!call.linker) return undefined;
    const setup = await options.linkers.get(call.linker.name, { cwd: call.linker.cwd, pathEnv: call.linker.pathEnv }).catch(() => undefined);
    if (!setup) return undefined;
    requires = [linkCapability(call.target, setup.identity)];
  }
  return toToolchainDescriptor({ release: data.release, commitHash: data.commitHash, target: call.target, stdDigest: digest }, requires);
}

/**
 * Whether the call loads a proc macro (an `--extern` naming a shared
 * object): rustc runs it in its own process, so only a host of the client's
 * platform can compile the crate (build scripts, cargo's other host code,
 * never reach Reprise as compiles).
 */
export function loadsProcMacros(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = a === "--extern" ? argv[i + 1] : a.startsWith("--extern=") ? a.slice("--extern=".length) : undefined;
    if (value && /\.so$/.test(value.slice(value.indexOf("=") + 1))) return true;
  }
  return false;
}

const TRIPLE_ARCH: Readonly<Record<string, string>> = { i586: "i386", i686: "i386", riscv64gc: "riscv64", powerpc64le: "ppc64le", armv7: "arm", arm: "arm" };

/** The Linux platform a host triple names (`x86_64-unknown-linux-gnu` → x86_64/linux), or undefined for another OS. */
export function tripleToPlatform(triple: string): Platform | undefined {
  const [arch, , os] = triple.split("-");
  if (!arch || os !== "linux") return undefined;
  return { arch: TRIPLE_ARCH[arch] ?? arch, os: "linux" };
}
