import { lstatSync, mkdirSync, readlinkSync, renameSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { nativeClientPath, PACKAGE_COMMAND } from "../client/native-client-path.js";

/** The compilers `reprise link-compilers <dir>` links when none are named. */
export const DEFAULT_LINKED_COMPILERS = ["gcc", "g++", "cc", "c++", "clang", "clang++"];

const USAGE = "usage: reprise link-compilers <dir> [compiler...]";

/**
 * The fastest way to put Reprise in front of compilers: a directory of links
 * (like ccache's /usr/lib/ccache) that point straight at the native client,
 * so a call costs one small process and no shell. `<dir>/reprise` is linked
 * too, for `CC="reprise gcc"` and CMake's launcher. Without a native client
 * the links point at the sh launcher, which runs the Node client.
 */
export function linkCompilersCommand(args: string[]): number {
  const [dirArg, ...names] = args;
  if (!dirArg || dirArg.startsWith("-")) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const bad = names.find((n) => !n || n.includes("/") || n === "." || n === "..");
  if (bad !== undefined) {
    process.stderr.write(`reprise: link-compilers: ${JSON.stringify(bad)} is not a compiler name (no slashes)\n${USAGE}\n`);
    return 2;
  }
  const dir = resolve(dirArg);
  const native = nativeClientPath();
  const target = native ?? PACKAGE_COMMAND;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const name of ["reprise", ...(names.length ? names : DEFAULT_LINKED_COMPILERS)]) {
      placeLink(join(dir, name), target);
    }
  } catch (err) {
    process.stderr.write(`reprise: link-compilers: ${(err as Error).message}\n`);
    return 1;
  }
  const kind = native ? "the native client" : "the sh launcher (no native client: run `reprise install-native` first for faster hits)";
  process.stdout.write(`Linked ${dir} to ${kind} (${target}).\nPut it first on PATH:  export PATH=${dir}:$PATH\n`);
  return 0;
}

/** Creates or replaces a link; never replaces a file that is not a link. */
function placeLink(path: string, target: string): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st && !st.isSymbolicLink()) throw new Error(`${path} exists and is not a link; not replacing it`);
  if (st && readlinkSync(path) === target) return;
  const temp = `${path}.reprise-link-${process.pid}`;
  symlinkSync(target, temp);
  renameSync(temp, path);
}
