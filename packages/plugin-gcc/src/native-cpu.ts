import { spawnSync } from "node:child_process";
import type { CompilerInfo } from "@reprise/core";

/** `-march=native`, `-mtune=native`, `-mcpu=native`: options that mean "the CPU of the machine running the compiler". */
export function isNativeCpuOption(arg: string): boolean {
  return arg === "-march=native" || arg === "-mtune=native" || arg === "-mcpu=native";
}

/**
 * What the native CPU options of a call stand for on this machine, as
 * options a compiler elsewhere understands the same way: the driver's own
 * expansion, read from `-###` once per compiler, set of options and
 * environment (the engine's parse is synchronous, and this runs only for calls
 * naming `native`: a few ms, once per daemon and build). The driver runs with
 * the call's own environment, as the call's compile does: what `native` means
 * is what the compiler run for this call finds (a wrapper or an emulator such
 * as qemu-user with QEMU_CPU may change it).
 */
export interface NativeExpansion {
  /** Options that replace the native ones, in the order the compiler puts them. */
  args: string[];
  /** Where they go: first of the user's arguments (GCC: before the user's -m options, as its cc1 spec puts them), or where the native option was. */
  placement: "first" | "in-place";
}

type Resolver = (compiler: CompilerInfo, native: string[], env: Readonly<Record<string, string>>) => NativeExpansion | string;

/** Resolutions kept (compiler, options, environment); past this many the oldest go. */
const MAX_MEMO = 256;
const memo = new Map<string, NativeExpansion | string>();

/** The expansion, or why there is none; memoised per compiler identity, options and environment. */
export function resolveNativeCpu(compiler: CompilerInfo, native: string[], resolver: Resolver, env: Readonly<Record<string, string>> = {}): NativeExpansion | string {
  const options = [...new Set(native)].sort();
  const envPart = Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k]}`)
    .join("\0");
  const key = `${compiler.identity}\0${compiler.path}\0${options.join(" ")}\0\0${envPart}`;
  let r = memo.get(key);
  if (r === undefined) {
    r = resolver(compiler, options, env);
    if (memo.size >= MAX_MEMO) memo.delete(memo.keys().next().value!);
    memo.set(key, r);
  }
  return r;
}

/** The driver's command lines for an empty compile, split into arguments (`-###` quotes every one it adds). */
function driverCommands(compiler: string, args: string[], callEnv: Readonly<Record<string, string>>): string[][] | string {
  const env = { ...callEnv, PATH: callEnv.PATH ?? process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" };
  const r = spawnSync(compiler, [...args, "-###", "-c", "-x", "c", "/dev/null", "-o", "/dev/null"], { encoding: "utf8", env, timeout: 20_000 });
  if (r.status !== 0) return `${compiler} ${args.join(" ")} -###: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`;
  return r.stderr
    .split("\n")
    .filter((l) => l.startsWith(" "))
    .map((l) => [...l.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!)));
}

/**
 * GCC: the options cc1 gets for the native options that it does not get
 * without them (`-march=znver3 -mavx2 … --param=l1-cache-size=32 …
 * -mtune=znver3`). They come first, as GCC's cc1 spec puts them before the
 * user's own -m options.
 */
export const gccNativeResolver: Resolver = (compiler, native, env) => {
  const cc1 = (cmds: string[][]) => cmds.find((c) => /\/cc1(plus)?$/.test(c[0] ?? ""));
  const withNative = driverCommands(compiler.path, native, env);
  const without = driverCommands(compiler.path, [], env);
  if (typeof withNative === "string") return withNative;
  if (typeof without === "string") return without;
  const a = cc1(withNative);
  const b = cc1(without);
  if (!a || !b) return `${compiler.path} -### shows no cc1 command`;
  const tail = (c: string[]) => c.slice(c.indexOf("/dev/null") + 1, c.indexOf("-dumpbase") < 0 ? undefined : c.indexOf("-dumpbase"));
  const base = new Set(tail(b));
  const args: string[] = [];
  const t = tail(a);
  for (let i = 0; i < t.length; i++) {
    if (t[i] === "--param" && t[i + 1] !== undefined) {
      args.push(`--param=${t[++i]}`);
      continue;
    }
    if (!base.has(t[i]!)) args.push(t[i]!);
  }
  if (args.some((x) => x.includes("native"))) return `${compiler.path} did not resolve ${native.join(" ")}`;
  return { args, placement: "first" };
};

/**
 * Clang: `-march=native` (and `-mcpu=native`) becomes the CPU its driver
 * detects plus each target feature it adds (`-Xclang -target-feature -Xclang
 * +avx2` …); `-mtune=native` the tuning CPU.
 */
export const clangNativeResolver: Resolver = (compiler, native, env) => {
  const cmds = driverCommands(compiler.path, native, env);
  if (typeof cmds === "string") return cmds;
  const cc1 = cmds.find((c) => c.includes("-cc1"));
  if (!cc1) return `${compiler.path} -### shows no -cc1 command`;
  const valueOf = (flag: string) => {
    const i = cc1.indexOf(flag);
    return i >= 0 ? cc1[i + 1] : undefined;
  };
  const args: string[] = [];
  for (const opt of native) {
    const name = opt.slice(0, opt.indexOf("="));
    const cpu = valueOf(name === "-mtune" ? "-tune-cpu" : "-target-cpu");
    if (!cpu || cpu === "native") return `${compiler.path} did not resolve ${opt}`;
    args.push(`${name}=${cpu}`);
  }
  if (native.some((o) => o !== "-mtune=native")) {
    for (let i = 0; i < cc1.length; i++) if (cc1[i] === "-target-feature" && cc1[i + 1]) args.push("-Xclang", "-target-feature", "-Xclang", cc1[++i]!);
  }
  return { args, placement: "in-place" };
};

/** Arguments (without argv[0]) with their native options replaced by the expansion. */
export function applyNativeExpansion(args: readonly string[], expansion: NativeExpansion): string[] {
  if (expansion.placement === "first") return [...expansion.args, ...args.filter((a) => !isNativeCpuOption(a))];
  const out: string[] = [];
  let placed = false;
  for (const a of args) {
    if (!isNativeCpuOption(a)) out.push(a);
    else if (!placed) {
      out.push(...expansion.args);
      placed = true;
    }
  }
  return out;
}

export type { Resolver as NativeCpuResolver };
