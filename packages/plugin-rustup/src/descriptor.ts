/**
 * A Rust toolchain descriptor: what a builder must hold to compile a crate as
 * the client would. Its id travels as the farm's (opaque) toolchain id:
 *
 *   rustc:<release>:<commit-hash>:<target>:<std-digest>
 *
 * `release` and `commit-hash` are `rustc -vV`'s, `target` the triple the
 * crate is compiled for, `std-digest` the content digest of that target's
 * standard library (`<sysroot>/lib/rustlib/<target>/lib`, every file, by
 * plugin-rustc's DirectoryDigests). No field holds a ':'.
 */
import type { ToolchainDescriptor } from "@reprise/core";

export interface RustDescriptor {
  release: string;
  commitHash: string;
  target: string;
  stdDigest: string;
}

export const DESCRIPTOR_PREFIX = "rustc:";
/** No field may start with '-': a builder passes release and target to rustup as arguments. */
const FIELD = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The farm toolchain id of a descriptor; undefined when a field cannot be spelled in an id. */
export function descriptorId(d: RustDescriptor): string | undefined {
  const fields = [d.release, d.commitHash, d.target, d.stdDigest];
  if (!fields.every((f) => FIELD.test(f))) return undefined;
  const id = DESCRIPTOR_PREFIX + fields.join(":");
  return id.length <= 256 ? id : undefined;
}

/** The descriptor an id names, or undefined when it is not a Rust descriptor. */
export function parseDescriptorId(id: string): RustDescriptor | undefined {
  if (!id.startsWith(DESCRIPTOR_PREFIX)) return undefined;
  const parts = id.slice(DESCRIPTOR_PREFIX.length).split(":");
  if (parts.length !== 4 || !parts.every((p) => FIELD.test(p))) return undefined;
  const [release, commitHash, target, stdDigest] = parts as [string, string, string, string];
  return { release, commitHash, target, stdDigest };
}

/**
 * What a builder needs to finish a crate whose type is linked: a linker for
 * its target whose identity (plugin-rustc's `inspectLinker`: driver, crt
 * objects, libc and libgcc files) is the client's.
 */
export function linkCapability(target: string, identity: string): string {
  return `link:${target}:${identity}`;
}

/** `requires`: the capabilities a builder must report (a linking crate's `link:<target>:<identity>`). */
export function toToolchainDescriptor(d: RustDescriptor, requires: string[] = []): ToolchainDescriptor | undefined {
  const id = descriptorId(d);
  if (!id) return undefined;
  return {
    id,
    family: "rustc",
    summary: `rustc ${d.release} (${d.commitHash.slice(0, 9)}) for ${d.target}`,
    ...(requires.length ? { requires } : {}),
  };
}

/**
 * Hosts rustup ships a Linux rustc for (tier 1 and 2 with host tools): a
 * descriptor can be provided on any of them, so every one is a pool the job
 * may go to; which builder of those pools can provide it is the scheduler's
 * match on the descriptor id.
 */
export const RUSTUP_LINUX_HOSTS = [
  { arch: "x86_64", os: "linux", bits: 64 },
  { arch: "aarch64", os: "linux", bits: 64 },
  { arch: "arm", os: "linux", bits: 32 },
  { arch: "i386", os: "linux", bits: 32 },
  { arch: "riscv64", os: "linux", bits: 64 },
  { arch: "ppc64le", os: "linux", bits: 64 },
  { arch: "s390x", os: "linux", bits: 64 },
  { arch: "loongarch64", os: "linux", bits: 64 },
] as const;
