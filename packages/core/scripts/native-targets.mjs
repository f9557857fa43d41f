// The platforms that get a prebuilt native client, each in its own npm
// package (@reprise/client-<id>) that npm installs only where `os` and `cpu`
// match. The binaries are static (musl's libc.a for linux-x64 when built on
// an x86-64 machine with musl-gcc, glibc's libc.a otherwise): they need no C
// library on the target, so one package per CPU serves glibc and musl
// systems alike.

/** @typedef {{ id: string, os: string, cpu: string, cc: string, emulator: string | null, describe: string }} NativeTarget */

/** @type {NativeTarget[]} */
export const NATIVE_TARGETS = [
  { id: "linux-x64", os: "linux", cpu: "x64", cc: "x86_64-linux-gnu-gcc", emulator: "qemu-x86_64-static", describe: "x86-64" },
  { id: "linux-arm64", os: "linux", cpu: "arm64", cc: "aarch64-linux-gnu-gcc", emulator: "qemu-aarch64-static", describe: "64-bit ARM (ARMv8-A)" },
  { id: "linux-arm", os: "linux", cpu: "arm", cc: "arm-linux-gnueabihf-gcc", emulator: "qemu-arm-static", describe: "32-bit ARMv7-A, hard float" },
];

/** The npm package holding the prebuilt client for a target id ("linux-x64"). */
export function platformPackageName(id) {
  return `@reprise/client-${id}`;
}

/** Where the executable sits inside its platform package. */
export const PLATFORM_BINARY = "bin/reprise";

/** This machine's target id, as npm matches `os` and `cpu` (process.platform, process.arch). */
export function currentTargetId() {
  return `${process.platform}-${process.arch}`;
}
