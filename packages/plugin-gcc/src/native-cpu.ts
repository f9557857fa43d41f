import { execFile } from "node:child_process";
import type { KeyContext, KeyHasher } from "@reprise/core";

/** Flags that mean "whatever CPU this host has": their meaning is not in the command line. */
const NATIVE_FLAG = /^-m(?:arch|tune|cpu)=native$/;
const PROBE_TIMEOUT_MS = 30_000;

/** The native-CPU flags among a call's arguments, in order. */
export function nativeCpuFlags(args: readonly string[]): string[] {
  return args.filter((a) => NATIVE_FLAG.test(a));
}

/**
 * The CPU options a driver passed to its compiler proper in `-v` output: GCC's
 * driver expands `-march=native` into `-march=skylake -mavx2 … --param
 * l1-cache-size=…` on the cc1 line; clang's into `-target-cpu`,
 * `-target-feature` and `-tune-cpu` on the `-cc1` line. Undefined when no such
 * line is found.
 */
export function cpuOptionsFromVerbose(stderr: string): string[] | undefined {
  for (const line of stderr.split("\n")) {
    const tokens = (line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? []).map((t) => (t.startsWith('"') ? t.slice(1, -1).replace(/\\(.)/g, "$1") : t));
    const isCompilerProper = tokens.includes("-cc1") || /\/cc1(?:plus|obj|objplus)?$/.test(tokens[0] ?? "");
    if (!isCompilerProper) continue;
    const out: string[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t === "--param" || t === "-target-cpu" || t === "-target-feature" || t === "-tune-cpu") {
        out.push(t, tokens[i + 1] ?? "");
        i++;
      } else if (/^-m/.test(t)) {
        out.push(t);
      }
    }
    return out;
  }
  return undefined;
}

/**
 * Resolves `-march=native` and friends into the options they stand for on
 * this host, once per compiler and flag set, so that a cache shared between
 * machines keys the CPU an object was built for. A failure to resolve throws:
 * the call is then compiled without the cache, never keyed wrongly.
 */
export class NativeCpuResolver {
  private readonly memo = new Map<string, Promise<string[]>>();

  async extendKey(hasher: KeyHasher, ctx: KeyContext): Promise<void> {
    const flags = nativeCpuFlags(ctx.invocation.keyArgs);
    if (!flags.length) return;
    const compiler = ctx.invocation.compileArgv[0] ?? ctx.compiler.path;
    const env = ctx.invocation.compileEnv ?? ctx.request.env;
    hasher.add("nativeCpu", (await this.resolve(ctx.compiler.identity, compiler, flags, env)).join(" "));
  }

  private resolve(identity: string, compiler: string, flags: string[], env: Record<string, string>): Promise<string[]> {
    const key = `${identity}\0${compiler}\0${flags.join(" ")}`;
    let pending = this.memo.get(key);
    if (!pending) {
      pending = probe(compiler, flags, env);
      this.memo.set(key, pending);
      pending.catch(() => this.memo.delete(key));
    }
    return pending;
  }
}

function probe(compiler: string, flags: string[], env: Record<string, string>): Promise<string[]> {
  const args = [...flags, "-E", "-v", "-x", "c", "/dev/null", "-o", "/dev/null"];
  return new Promise((resolve, reject) => {
    execFile(compiler, args, { env, timeout: PROBE_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (err, _stdout, stderr) => {
      const options = cpuOptionsFromVerbose(String(stderr));
      if (err || !options?.length) {
        reject(new Error(`cannot resolve ${flags.join(" ")} with ${compiler}: ${err ? err.message : "no compiler-proper line in -v output"}`));
        return;
      }
      resolve(options);
    });
  });
}
