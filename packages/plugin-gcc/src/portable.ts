/**
 * What makes two builds of a compiler on different hosts interchangeable
 * (docs/cross-arch.md): shared by the gcc and clang plugins' answers to
 * `portableToolchain`.
 *
 * gcc cannot be retargeted: a gcc of another host takes this gcc's jobs only
 * when it is a cross compiler for the same target and writes the same bytes.
 * Its equivalence covers the version line without the program's name (the
 * release and the distribution's build, e.g. "(Debian 12.2.0-14+deb12u1)"),
 * the target, the include search directories it would use (a cross gcc looks
 * for headers elsewhere than a native one), and a canary object. Debian's
 * cross gcc is a separate build whose `.comment` differs from the native
 * gcc's, so the two are never equivalent and jobs are never mixed.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import type { CompilerInfo, PortableToolchain } from "@reprise/core";
import { localRunner } from "./toolchain.js";

const CANARY_SOURCE = `/* reprise portable-toolchain canary */
struct point { int x; double y; long z[4]; };
static const char banner[] = __VERSION__;
const char *reprise_banner(void) { return banner; }
int reprise_sum(const int *v, int n) { int s = 0; for (int i = 0; i < n; i++) s += v[i] * 3 + (v[i] >> 2); return s; }
double reprise_dot(const double *a, const double *b, int n) { double s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }
int reprise_pick(int k) { switch (k) { case 0: return 7; case 1: return 11; case 5: return 13; case 9: return 17; default: return -1; } }
long reprise_point(struct point *p, int i) { p->z[i & 3] += p->x; return p->z[i & 3] + (long)p->y; }
__thread int reprise_tls;
int reprise_tls_bump(void) { return ++reprise_tls; }
`;

/**
 * Digest of the canary object `compilerPath` writes (with `args`, e.g. a
 * target): a small C file at `-O2 -g`, in a temporary directory mapped to a
 * fixed name, so that only the compiler decides the bytes. The C++ drivers
 * (g++, c++, clang++) compile it as C++, so it must be valid in both
 * languages (`__thread`, not C11's `_Thread_local`, which g++ rejects).
 */
export async function canaryDigest(compilerPath: string, args: string[] = []): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "reprise-canary-"));
  try {
    await writeFile(join(dir, "canary.c"), CANARY_SOURCE);
    const { execa } = await import("execa");
    const r = await execa(compilerPath, [...args, "-O2", "-g", `-fdebug-prefix-map=${dir}=/reprise-canary`, "-c", "canary.c", "-o", "canary.o"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", LANG: "C" },
      extendEnv: false,
      stdin: "ignore",
      reject: false,
      timeout: 120_000,
    });
    if (r.exitCode !== 0) throw new Error(`${compilerPath} ${args.join(" ")} cannot compile a canary: ${String(r.stderr).trim().slice(0, 500)}`);
    return createHash("sha256").update(await readFile(join(dir, "canary.o"))).digest("hex");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** gcc's version line without the program name it starts with ("x86_64-linux-gnu-gcc-12 (Debian 12.2.0-14) 12.2.0" → "(Debian 12.2.0-14) 12.2.0"). */
export function gccVersionLine(versionText: string): string {
  const first = versionText.split("\n").find((l) => l.trim()) ?? "";
  return first.replace(/^\S+\s+/, "").trim();
}

/** Every include directory the driver names for C (kept or ignored as missing on this host), sorted. */
export function includeSearchDirectories(verboseStderr: string): string[] {
  const dirs = new Set<string>();
  for (const m of verboseStderr.matchAll(/^ignoring (?:nonexistent|duplicate) directory "([^"]+)"/gm)) dirs.add(m[1]!);
  const list = /#include <\.\.\.> search starts here:\n([\s\S]*?)End of search list\./.exec(verboseStderr)?.[1] ?? "";
  for (const line of list.split("\n")) if (line.trim()) dirs.add(line.trim());
  return [...dirs].sort();
}

export async function gccPortableToolchain(compiler: CompilerInfo, target: string): Promise<PortableToolchain | undefined> {
  if (!compiler.target || compiler.target !== target) return undefined;
  const run = localRunner(compiler.path);
  // Both at once: a compiler's first farm jobs wait for this answer.
  const [verbose, canary] = await Promise.all([run(["-xc", "-E", "-v", "/dev/null"]), canaryDigest(compiler.path)]);
  const material = JSON.stringify({
    family: "gcc",
    version: gccVersionLine(compiler.versionText),
    target,
    includes: includeSearchDirectories(verbose.stderr),
    canary,
  });
  return { equivalence: createHash("sha256").update(material).digest("hex"), targetArgs: [], files: [] };
}
