import { existsSync } from "node:fs";
import { basename, isAbsolute } from "node:path";
import type { CompilerDetection, CompilerProbe } from "@reprise/core";
import { readTraceWorks } from "./read-trace.js";

/** GCC drivers that are not C-family compilers: the preprocessor and the other front ends. */
const OTHER_DRIVERS = /(^|-)(cpp|gfortran|gccgo|gdc|gnat|gm2)(-[\d.]+)?$/;
const GCC_NAME = /(gcc|cc)(-[\d.]+)?$/;

/**
 * Whether a GCC driver is the C++ one (g++, c++, x86_64-linux-gnu-g++-12).
 * g++ and gcc are different binaries, so the real path decides; the invoked
 * name only when the real path is not a gcc-like name (a wrapper).
 */
export function isCxxDriver(probe: Pick<CompilerProbe, "realPath" | "invokedName">): boolean {
  const real = basename(probe.realPath);
  if (real.includes("++")) return true;
  return !GCC_NAME.test(real) && probe.invokedName.includes("++");
}

/** Recognises GCC (not clang, which also answers to gcc-style names) by probing it. */
export async function detectGcc(probe: CompilerProbe): Promise<CompilerDetection | undefined> {
  if (OTHER_DRIVERS.test(probe.invokedName) || OTHER_DRIVERS.test(basename(probe.realPath))) return undefined;
  const versionRun = await probe.run(["--version"]);
  if (versionRun.exitCode !== 0 || /clang/i.test(versionRun.stdout)) return undefined;
  const verboseRun = await probe.run(["-v"]);
  const version = /^gcc version (\S+)/m.exec(verboseRun.stderr)?.[1];
  if (verboseRun.exitCode !== 0 || !version) return undefined;

  const [machine, cc1, cc1plus, readTrace] = await Promise.all([
    probe.run(["-dumpmachine"]),
    probe.run(["-print-prog-name=cc1"]),
    probe.run(["-print-prog-name=cc1plus"]),
    readTraceWorks(probe.path),
  ]);
  const identityFiles = [cc1, cc1plus]
    .map((r) => r.stdout.trim())
    .filter((p) => isAbsolute(p) && existsSync(p));
  // The first line of --version and COLLECT_GCC name the program as invoked, so
  // gcc and cc (one binary) would differ for nothing.
  const versionText = versionRun.stdout.replace(/^\S+ /, "");
  const verbose = verboseRun.stderr
    .split("\n")
    .filter((l) => !l.startsWith("COLLECT_GCC="))
    .join("\n");
  const target = machine.exitCode === 0 ? machine.stdout.trim() : "";
  return {
    family: "gcc",
    path: probe.path,
    realPath: probe.realPath,
    version,
    versionText: `${versionText}\n${verbose}`,
    ...(target ? { target } : {}),
    identityFiles,
    // readTrace: a -MMD miss lists what it read in its own run (compile-listing.ts).
    data: { cxx: isCxxDriver(probe), readTrace },
  };
}
