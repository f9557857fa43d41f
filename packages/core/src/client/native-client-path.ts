import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package's `reprise` command: the sh launcher, or the native client itself once npm's install script put it there. */
export const PACKAGE_COMMAND = fileURLToPath(new URL("../../bin/reprise", import.meta.url));

/** The native client built from source (scripts/build-native.mjs). */
export const BUILT_NATIVE_CLIENT = fileURLToPath(new URL("../native/reprise-native", import.meta.url));

/** The prebuilt client's package for this machine, named as scripts/native-targets.mjs names it. */
export function platformPackageName(platform: string = process.platform, arch: string = process.arch): string {
  return `@reprise/client-${platform}-${arch}`;
}

/** The executable of this machine's platform package, if npm installed it. */
export function prebuiltClientPath(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve(`${platformPackageName()}/package.json`);
    return join(dirname(pkg), "bin", "reprise");
  } catch {
    return undefined;
  }
}

function isElf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The native client this package runs for `reprise`, or undefined when it runs the Node client. */
export function nativeClientPath(): string | undefined {
  for (const p of [PACKAGE_COMMAND, BUILT_NATIVE_CLIENT, prebuiltClientPath()]) if (p && isElf(p)) return p;
  return undefined;
}
