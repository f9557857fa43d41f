/** The platform programs built like this Node process run on, in the farm's names (until the shared platform module lands). */
import type { Platform } from "@reprise/core";

const NODE_ARCH: Readonly<Record<string, { arch: string; bits: 32 | 64 }>> = {
  x64: { arch: "x86_64", bits: 64 },
  arm64: { arch: "aarch64", bits: 64 },
  arm: { arch: "arm", bits: 32 },
  ia32: { arch: "i386", bits: 32 },
  riscv64: { arch: "riscv64", bits: 64 },
  ppc64: { arch: "ppc64le", bits: 64 },
  s390x: { arch: "s390x", bits: 64 },
  loong64: { arch: "loongarch64", bits: 64 },
};

export function builderPlatform(): Platform {
  const known = NODE_ARCH[process.arch];
  return known ? { arch: known.arch, os: process.platform, bits: known.bits } : { arch: process.arch, os: process.platform };
}
