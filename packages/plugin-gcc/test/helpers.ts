import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { execa } from "execa";
import type { CompileInvocation, CompilerInfo, CompilerProbe, ParseInput, ParseResult } from "@reprise/core";

/** A probe like the engine's: runs the real executable in the C locale, memoised. */
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

/** A probe answering from canned outputs, for compilers not installed here. */
export function fakeProbe(path: string, realPath: string, answers: Record<string, { stdout?: string; stderr?: string; exitCode?: number }>): CompilerProbe {
  return {
    path,
    realPath,
    invokedName: basename(path),
    async run(args) {
      const a = answers[args.join(" ")];
      return { stdout: a?.stdout ?? "", stderr: a?.stderr ?? "", exitCode: a ? (a.exitCode ?? 0) : 1 };
    },
  };
}

export function fakeCompiler(family: string, overrides: Partial<CompilerInfo> = {}): CompilerInfo {
  return {
    family,
    path: `/usr/bin/${family}`,
    realPath: `/usr/bin/${family}`,
    version: family === "gcc" ? "12.2.0" : "14.0.6",
    versionText: "",
    identity: "test",
    data: { cxx: false },
    ...overrides,
  };
}

const tempDirs: string[] = [];

/** A fresh directory under the system temp dir, removed by `removeTempDirs`. */
export function tempDir(prefix = "reprise-plugin-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

let counter = 0;

/** A ParseInput for `argv` (argv[0] included), with a private temp dir for tempPath. */
export function parseInput(argv: string[], opts: Partial<Omit<ParseInput, "argv">> & { tmp?: string } = {}): ParseInput {
  const tmp = opts.tmp ?? "/tmp/reprise-test-tmp";
  return {
    argv,
    cwd: opts.cwd ?? "/work/proj",
    env: opts.env ?? {},
    compiler: opts.compiler ?? fakeCompiler("gcc"),
    stderrIsTTY: opts.stderrIsTTY ?? false,
    tempPath: opts.tempPath ?? ((suffix) => join(tmp, `t${++counter}${suffix}`)),
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

/** `all` with the subsequence `remove` taken out, exactly as the engine does in preprocessor mode. */
export function withoutSubsequence(all: readonly string[], remove: readonly string[]): string[] {
  const out: string[] = [];
  let j = 0;
  for (const a of all) {
    if (j < remove.length && a === remove[j]) j++;
    else out.push(a);
  }
  if (j !== remove.length) throw new Error(`not a subsequence: ${remove.join(" ")}`);
  return out;
}
