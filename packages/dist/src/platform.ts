/**
 * One naming for platforms across the farm. Node's `process.arch`, `uname -m`
 * (`os.machine()`), Debian and GNU spell architectures differently; the farm
 * speaks the ELF/GNU spelling core uses (`elfArch`): "x86_64", "aarch64",
 * "arm", "i386", "riscv64", ... Every name a builder reports or a client asks
 * for goes through `normalisePlatform` before it is compared.
 */
import { arch as nodeArch, platform as nodePlatform } from "node:process";
import type { Platform } from "@reprise/core";

export type { Platform };

const ARCH_ALIASES: Readonly<Record<string, string>> = {
  x64: "x86_64",
  amd64: "x86_64",
  "x86-64": "x86_64",
  x86_64: "x86_64",
  ia32: "i386",
  x86: "i386",
  i386: "i386",
  i486: "i386",
  i586: "i386",
  i686: "i386",
  arm64: "aarch64",
  aarch64: "aarch64",
  armv8l: "arm",
  armv7l: "arm",
  armv7: "arm",
  armv6l: "arm",
  armhf: "arm",
  armel: "arm",
  arm: "arm",
  loong64: "loongarch64",
  loongarch64: "loongarch64",
  ppc64el: "ppc64le",
  ppc64le: "ppc64le",
  powerpc64le: "ppc64le",
  riscv64: "riscv64",
  s390x: "s390x",
  mips64el: "mips64el",
  mipsel: "mipsel",
};

const ARCH_BITS: Readonly<Record<string, 32 | 64>> = {
  x86_64: 64,
  aarch64: 64,
  aarch64_be: 64,
  riscv64: 64,
  ppc64le: 64,
  ppc64: 64,
  s390x: 64,
  loongarch64: 64,
  mips64el: 64,
  mips64: 64,
  sparc64: 64,
  i386: 32,
  x32: 32,
  arm: 32,
  armeb: 32,
  riscv32: 32,
  mipsel: 32,
  mips: 32,
  ppc: 32,
  ppcle: 32,
};

/** The farm's name for an architecture ("x64" → "x86_64", "arm64" → "aarch64", "armv7l" → "arm"). Unknown names pass through lower-cased. */
export function normaliseArch(name: string): string {
  const key = name.trim().toLowerCase();
  return ARCH_ALIASES[key] ?? key;
}

/** The farm's name for an OS (Node's `process.platform` and ELF names agree on "linux"). */
export function normaliseOs(name: string): string {
  const key = name.trim().toLowerCase();
  return key === "gnu/linux" ? "linux" : key;
}

/** A platform with normalised names and its word size filled in when the architecture implies it. */
export function normalisePlatform(platform: Platform): Platform {
  const arch = normaliseArch(platform.arch);
  const os = normaliseOs(platform.os);
  const bits = platform.bits ?? ARCH_BITS[arch];
  return bits === undefined ? { arch, os } : { arch, os, bits };
}

/** The key of a platform's pool: "linux/x86_64". Word size is part of the architecture name already. */
export function platformKey(platform: Platform): string {
  const p = normalisePlatform(platform);
  return `${p.os}/${p.arch}`;
}

export function samePlatform(a: Platform, b: Platform): boolean {
  return platformKey(a) === platformKey(b);
}

/**
 * The platform this Node process runs on: what programs built like Node itself
 * can run here. `process.arch` rather than `os.machine()`: a 32-bit userland on
 * a 64-bit kernel reports "aarch64" from uname but runs "arm" programs.
 */
export function hostPlatform(): Platform {
  return normalisePlatform({ arch: nodeArch, os: nodePlatform });
}

export function formatPlatform(platform: Platform): string {
  return platformKey(platform);
}
