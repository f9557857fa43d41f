// The release tarballs (scripts/pack-release.mjs) installed by real npm into
// fresh projects, as a user gets Reprise from the registry.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { REPO_ROOT } from "./reprise-env.js";

/** Package name -> tarball path. */
export type Tarballs = Record<string, string>;

/** Packs the release (platform packages, core with its optional dependencies, `packages`) into `out`. */
export async function packRelease(out: string, packages: string[], targets?: string[]): Promise<Tarballs> {
  const args = [join(REPO_ROOT, "scripts/pack-release.mjs"), "--out", out, "--packages", packages.join(",")];
  if (targets) args.push("--targets", targets.join(","));
  const r = await execa(process.execPath, args, { reject: false, cwd: REPO_ROOT });
  if (r.exitCode !== 0) throw new Error(`pack-release failed (exit ${r.exitCode}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Tarballs;
}

/**
 * A fresh npm project in `dir` with `tarballs` installed as devDependencies
 * (third-party dependencies come from the registry). Returns npm's output.
 */
export async function npmInstallProject(dir: string, tarballs: string[], opts: { flags?: string[]; env?: Record<string, string> } = {}) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name: "reprise-user-project", version: "1.0.0", private: true }, null, 2)}\n`);
  const r = await execa("npm", ["install", "--save-dev", "--no-audit", "--no-fund", "--foreground-scripts", ...(opts.flags ?? []), ...tarballs], {
    cwd: dir,
    env: { ...(process.env as Record<string, string>), ...opts.env },
    reject: false,
    all: true,
  });
  if (r.exitCode !== 0) throw new Error(`npm install failed (exit ${r.exitCode}): ${r.all}`);
  return r.all ?? "";
}

/** True when `path` (followed through links) is an ELF executable. */
export function isElf(path: string): boolean {
  return readFileSync(path).subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}

/** ELF e_machine of `path`: 62 x86-64, 183 AArch64, 40 ARM. */
export function elfMachine(path: string): number {
  return readFileSync(path).readUInt16LE(18);
}

/**
 * A directory holding a `node` that records each start in `marker` and runs
 * the real node: put first on PATH, it shows whether a call went through Node.
 */
export function nodeSpy(dir: string, marker: string): string {
  mkdirSync(dir, { recursive: true });
  const spy = join(dir, "node");
  writeFileSync(spy, `#!/bin/sh\necho "$*" >> '${marker}'\nexec '${process.execPath}' "$@"\n`);
  chmodSync(spy, 0o755);
  return dir;
}

/** The same with pnpm (`pnpm@9`, through npx: a version that runs dependencies' install scripts). */
export async function pnpmInstallProject(dir: string, tarballs: string[], pnpm = "pnpm@9.15.9") {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name: "reprise-user-project", version: "1.0.0", private: true }, null, 2)}\n`);
  const r = await execa("npx", ["--yes", pnpm, "add", "--save-dev", ...tarballs], { cwd: dir, reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`pnpm add failed (exit ${r.exitCode}): ${r.all}`);
  return r.all ?? "";
}
