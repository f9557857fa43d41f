import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { CompilerDetection, CompilerInfo, CompilerProbe } from "@reprise/core";

/** What detection remembers in `CompilerInfo.data` for the parser and the key hook. */
export interface RustcData {
  /** `rustc --print sysroot`, with symlinks followed. */
  sysroot: string;
  /** The toolchain's own rustc binary (`<sysroot>/bin/rustc`). */
  rustcPath: string;
  /** Host triple from `rustc -vV`: the target when no `--target` is given. */
  host: string;
  release: string;
  commitHash: string;
  /**
   * The probed executable is not the toolchain's rustc but a rustup proxy (or
   * another launcher) that chose this toolchain: each call must check that it
   * would choose the same one.
   */
  proxy: boolean;
  /** Identity of `rustcPath` when detected: a toolchain updated in place behind a proxy changes it. */
  rustcStamp: string;
}

/** The fields of `rustc -vV`. */
export function parseVerboseVersion(text: string): { release: string; host: string; commitHash: string } | undefined {
  if (!/^rustc \S+/.test(text)) return undefined;
  const field = (name: string) => new RegExp(`^${name}: *(.*)$`, "m").exec(text)?.[1]?.trim();
  const release = field("release");
  const host = field("host");
  if (!release || !host) return undefined;
  return { release, host, commitHash: field("commit-hash") ?? "unknown" };
}

export function fileStamp(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}` : "missing";
}

/** The shared libraries rustc runs with (`librustc_driver-*.so`, LLVM): part of its identity. */
export function compilerLibraries(sysroot: string): string[] {
  const dir = join(sysroot, "lib");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /\.(so|dylib|dll)(\.|$)/.test(n))
    .map((n) => join(dir, n))
    .filter((p) => statSync(p, { throwIfNoEntry: false })?.isFile() === true)
    .sort();
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Recognises rustc, including rustup's proxy (`~/.cargo/bin/rustc` is a link
 * to `rustup`): `-vV` gives version, commit and host; `--print sysroot` the
 * toolchain, whose own `bin/rustc` and `lib/*.so` (rustc_driver, LLVM) are
 * the identity files, so a proxy's identity is that of the toolchain it
 * runs, not of rustup.
 */
export async function detectRustc(probe: CompilerProbe): Promise<CompilerDetection | undefined> {
  // `--version` is what other plugins probe first too (memoised): a cheap "not mine".
  const short = await probe.run(["--version"]);
  if (short.exitCode !== 0 || !/^rustc \d/.test(short.stdout)) return undefined;
  const verbose = await probe.run(["-vV"]);
  const fields = verbose.exitCode === 0 ? parseVerboseVersion(verbose.stdout) : undefined;
  if (!fields) return undefined;
  const sysrootRun = await probe.run(["--print", "sysroot"]);
  const printed = sysrootRun.stdout.trim();
  if (sysrootRun.exitCode !== 0 || !printed || !existsSync(printed)) return undefined;
  const sysroot = real(printed);
  const own = join(sysroot, "bin", "rustc");
  const rustcPath = existsSync(own) ? own : probe.realPath;
  const proxy = real(rustcPath) !== probe.realPath;
  const data: RustcData = {
    sysroot,
    rustcPath,
    host: fields.host,
    release: fields.release,
    commitHash: fields.commitHash,
    proxy,
    rustcStamp: fileStamp(rustcPath),
  };
  return {
    family: "rustc",
    path: probe.path,
    realPath: probe.realPath,
    version: fields.release,
    versionText: verbose.stdout,
    target: fields.host,
    identityFiles: [...(proxy ? [rustcPath] : []), ...compilerLibraries(sysroot)],
    data: data as unknown as Record<string, unknown>,
  };
}

export function rustcData(compiler: CompilerInfo): RustcData | undefined {
  const d = compiler.data as Partial<RustcData> | undefined;
  return d && typeof d.sysroot === "string" && typeof d.host === "string" ? (d as RustcData) : undefined;
}

/** Whether a path names rustup itself (the proxies are links or copies of it). */
export function looksLikeRustup(path: string): boolean {
  return /^rustup(\.exe)?$/.test(basename(path));
}
