/**
 * clang across architectures (docs/cross-arch.md): clang is a cross compiler
 * by nature, so a build of the same clang release on another host, given an
 * explicit `--target`, compiles a job exactly as this one does. What makes it
 * safe is the equivalence value both sides compute:
 * - the version text without the host-dependent lines (`Target:`,
 *   `InstalledDir:`): release, vendor and build (e.g. "Debian clang version
 *   14.0.6"), thread model;
 * - the path clang is called at (argv[0] decides the paths it writes into
 *   debug info);
 * - the target triple;
 * - the digest of a canary object: a small C file compiled for the target at
 *   `-O2 -g` by that very binary. Two builds that differ in what they write
 *   (a distribution's patches, a different `.comment`, another DWARF
 *   producer, other default flags) give other canaries, so they never match
 *   even when their version lines do.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { execa } from "execa";
import type { CompilerInfo, PortableToolchain } from "@reprise/core";
import { localRunner } from "@reprise/plugin-gcc";
import { gccInstallationFiles } from "./toolchain.js";

const CANARY_SOURCE = `/* reprise portable-toolchain canary */
struct point { int x; double y; long z[4]; };
static const char banner[] = __VERSION__;
const char *reprise_banner(void) { return banner; }
int reprise_sum(const int *v, int n) { int s = 0; for (int i = 0; i < n; i++) s += v[i] * 3 + (v[i] >> 2); return s; }
double reprise_dot(const double *a, const double *b, int n) { double s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }
int reprise_pick(int k) { switch (k) { case 0: return 7; case 1: return 11; case 5: return 13; case 9: return 17; default: return -1; } }
long reprise_point(struct point *p, int i) { p->z[i & 3] += p->x; return p->z[i & 3] + (long)p->y; }
_Thread_local int reprise_tls;
int reprise_tls_bump(void) { return ++reprise_tls; }
`;

/** The version text of `clang --version` without the lines that name this host (default target, install dir). */
export function hostIndependentVersion(versionText: string): string {
  const versionPart = versionText.split("\n\n")[0] ?? versionText;
  return versionPart
    .split("\n")
    .filter((l) => !/^(Target|InstalledDir|Configuration file|Found candidate GCC|Selected GCC|Candidate multilib|Selected multilib):/.test(l.trim()))
    .map((l) => l.trim())
    .filter(Boolean)
    .join("\n");
}

/** Digest of the canary object `compilerPath` writes for `target`. */
export async function canaryDigest(compilerPath: string, target: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "reprise-canary-"));
  try {
    await writeFile(join(dir, "canary.c"), CANARY_SOURCE);
    const r = await execa(compilerPath, [`--target=${target}`, "-O2", "-g", `-fdebug-prefix-map=${dir}=/reprise-canary`, "-c", "canary.c", "-o", "canary.o"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", LANG: "C" },
      extendEnv: false,
      stdin: "ignore",
      reject: false,
      timeout: 120_000,
    });
    if (r.exitCode !== 0) throw new Error(`${compilerPath} cannot compile for ${target}: ${String(r.stderr).trim().slice(0, 500)}`);
    return createHash("sha256").update(await readFile(join(dir, "canary.o"))).digest("hex");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The equivalence value of a clang at `compiler.path` for `target` (see the file's comment). */
export async function clangEquivalence(compiler: Pick<CompilerInfo, "path" | "versionText">, target: string): Promise<string> {
  const canary = await canaryDigest(compiler.path, target);
  const material = JSON.stringify({ family: "clang", version: hostIndependentVersion(compiler.versionText), path: compiler.path, target, canary });
  return createHash("sha256").update(material).digest("hex");
}

/**
 * How another host's build of this clang compiles its jobs for `target`:
 * with `--target=<target>` inserted after argv[0] (a later `--target` of the
 * user's own still wins), carrying the crtbegin.o files that make clang
 * select the same GCC installation (and so libstdc++'s headers) as here.
 */
export async function clangPortableToolchain(compiler: CompilerInfo, target: string): Promise<PortableToolchain> {
  const verbose = await localRunner(compiler.path)(["-v"]);
  return {
    equivalence: await clangEquivalence(compiler, target),
    targetArgs: [`--target=${target}`],
    files: gccInstallationFiles(`${verbose.stderr}\n${verbose.stdout}`).map((f) => resolve(f)).filter((f) => existsSync(f)),
  };
}
