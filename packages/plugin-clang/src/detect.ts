import type { CompilerDetection, CompilerProbe } from "@reprise/core";
import { readTraceWorks } from "@reprise/plugin-gcc";

/**
 * Clang picks its driver mode from the name it runs under, version and `.exe`
 * stripped: `*cl` is MSVC syntax, `*cpp` the preprocessor, `*flang`/`*dxc`
 * other front ends. Those are not gcc-like C compilers.
 */
const OTHER_MODES = /(^|-)(cl|cpp|flang|flang-new|dxc)$/;

function stripVersion(name: string): string {
  return name.replace(/\.exe$/i, "").replace(/-[\d.]+$/, "");
}

/** Whether clang runs in C++ mode under this name (clang++, clang++-14, c++, x86_64-linux-gnu-clang++). */
export function isClangCxxName(invokedName: string): boolean {
  return stripVersion(invokedName).endsWith("++");
}

/** Recognises clang by the "clang version" line of `--version` (LLVM, Debian, Apple builds alike). */
export async function detectClang(probe: CompilerProbe): Promise<CompilerDetection | undefined> {
  if (OTHER_MODES.test(stripVersion(probe.invokedName))) return undefined;
  const versionRun = await probe.run(["--version"]);
  const version = /clang version (\d+(?:\.\d+)*)/.exec(versionRun.stdout)?.[1];
  if (versionRun.exitCode !== 0 || !version) return undefined;
  // -v also names the GCC installation whose headers and runtime clang uses.
  const [verboseRun, readTrace] = await Promise.all([probe.run(["-v"]), readTraceWorks(probe.path, { everyProcess: true })]);
  const target = /^Target: (\S+)/m.exec(versionRun.stdout)?.[1];
  return {
    family: "clang",
    path: probe.path,
    realPath: probe.realPath,
    version,
    versionText: `${versionRun.stdout}\n${verboseRun.stderr}`,
    ...(target ? { target } : {}),
    identityFiles: [],
    // readTrace: a miss's compile reports each file's identity as it read it (compile-listing.ts).
    data: { cxx: isClangCxxName(probe.invokedName), readTrace },
  };
}
