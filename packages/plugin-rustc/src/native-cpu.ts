import { execFile } from "node:child_process";
import type { KeyContext, KeyHasher } from "@reprise/core";
import { rustcCallOf } from "./parse-arguments.js";

const NATIVE_CPU = /^target[-_]cpu=native$/;
const PROBE_TIMEOUT_MS = 30_000;

/** Whether the key arguments hold `-C target-cpu=native` (or `--codegen target-cpu=native`). */
export function usesNativeCpu(keyArgs: readonly string[]): boolean {
  return keyArgs.some((a, i) => (i > 0 && (keyArgs[i - 1] === "-C" || keyArgs[i - 1] === "--codegen") && NATIVE_CPU.test(a)) || /^-Ctarget[-_]cpu=native$/.test(a));
}

/**
 * What `target-cpu=native` stands for, as rustc reports it: the host CPU's
 * name (`--print target-cpus`) and the target features it enables
 * (`--print cfg`). Keyed so that a cache shared between machines never
 * serves code built for another CPU; memoised per compiler and target.
 */
export class RustNativeCpuResolver {
  private readonly memo = new Map<string, Promise<string>>();

  async extendKey(hasher: KeyHasher, ctx: KeyContext): Promise<void> {
    if (ctx.compiler.family !== "rustc" || !usesNativeCpu(ctx.invocation.keyArgs)) return;
    const rustc = ctx.invocation.compileArgv[0] ?? ctx.compiler.path;
    const target = rustcCallOf(ctx.invocation)?.target;
    const env = ctx.invocation.compileEnv ?? ctx.request.env;
    const key = `${ctx.compiler.identity}\0${rustc}\0${target ?? ""}`;
    let pending = this.memo.get(key);
    if (!pending) {
      pending = resolveNativeCpu(rustc, target, env);
      this.memo.set(key, pending);
      pending.catch(() => this.memo.delete(key));
    }
    hasher.add("rustcNativeCpu", await pending);
  }
}

async function resolveNativeCpu(rustc: string, target: string | undefined, env: Record<string, string>): Promise<string> {
  const base = ["-C", "target-cpu=native", ...(target ? ["--target", target] : [])];
  const [cpus, cfg] = await Promise.all([run(rustc, [...base, "--print", "target-cpus"], env), run(rustc, [...base, "--print", "cfg"], env)]);
  const cpu = /native\s+-.*\(currently ([^)]+)\)/.exec(cpus)?.[1];
  const features = cfg.split("\n").filter((l) => l.startsWith("target_feature="));
  if (!cpu && !features.length) throw new Error(`cannot resolve target-cpu=native with ${rustc}: no CPU or features in its output`);
  return [`cpu=${cpu ?? "?"}`, ...features].join("\n");
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: PROBE_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (err, stdout) => {
      if (err) reject(new Error(`cannot resolve target-cpu=native: ${cmd} ${args.join(" ")}: ${err.message}`));
      else resolve(String(stdout));
    });
  });
}
