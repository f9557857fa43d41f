import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { execa } from "execa";
import type { CompileInvocation, CompilerInfo, CompilerProbe, ParseInput, ParseResult } from "@reprise/core";
import type { RustcData } from "../src/detect.js";

export const HOST = "x86_64-unknown-linux-gnu";
export const RUSTC = "/home/u/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc";

export function fakeRustc(data: Partial<RustcData> = {}, overrides: Partial<CompilerInfo> = {}): CompilerInfo {
  const d: RustcData = {
    sysroot: "/home/u/.rustup/toolchains/stable-x86_64-unknown-linux-gnu",
    rustcPath: RUSTC,
    host: HOST,
    release: "1.95.0",
    commitHash: "59807616e1fa2540724bfbac14d7976d7e4a3860",
    proxy: false,
    rustcStamp: "missing",
    ...data,
  };
  return {
    family: "rustc",
    path: d.rustcPath,
    realPath: d.rustcPath,
    version: d.release,
    versionText: "rustc 1.95.0",
    target: d.host,
    identity: "test",
    data: d as unknown as Record<string, unknown>,
    ...overrides,
  };
}

const tempDirs: string[] = [];

export function tempDir(prefix = "reprise-rustc-test-"): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

let counter = 0;

export function parseInput(argv: string[], opts: Partial<Omit<ParseInput, "argv">> = {}): ParseInput {
  return {
    argv,
    cwd: opts.cwd ?? "/work/ws",
    env: opts.env ?? { PATH: "/usr/bin:/bin" },
    compiler: opts.compiler ?? fakeRustc(),
    stderrIsTTY: opts.stderrIsTTY ?? false,
    tempPath: opts.tempPath ?? ((suffix) => `/tmp/reprise-test-tmp/t${++counter}${suffix}`),
  };
}

export function expectCacheable(result: ParseResult | undefined): CompileInvocation {
  if (!result) throw new Error("parser returned undefined");
  if (!result.cacheable) throw new Error(`expected cacheable, got ${result.reason}: ${result.detail ?? ""}`);
  return result.invocation;
}

export function reasonOf(result: ParseResult | undefined): string | undefined {
  if (!result) throw new Error("parser returned undefined");
  return result.cacheable ? undefined : result.reason;
}

/** A probe like the engine's: the real executable in the C locale with a minimal environment, memoised. */
export function realProbe(path: string): CompilerProbe {
  const runs = new Map<string, Promise<{ stdout: string; stderr: string; exitCode: number }>>();
  return {
    path,
    realPath: realpathSync(path),
    invokedName: basename(path),
    run(args) {
      const k = args.join("\0");
      let r = runs.get(k);
      if (!r) {
        r = execa(path, args, { env: { PATH: "/usr/bin:/bin", LC_ALL: "C", LANG: "C" }, extendEnv: false, stdin: "ignore", reject: false }).then((res) => ({
          stdout: String(res.stdout),
          stderr: String(res.stderr),
          exitCode: res.exitCode ?? 1,
        }));
        runs.set(k, r);
      }
      return r;
    },
  };
}
