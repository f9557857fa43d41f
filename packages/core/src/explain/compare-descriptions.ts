import { isAbsolute, relative } from "node:path";
import type { KeyDescription } from "./key-description.js";

/** The current hash of a file a recorded entry read; null when it is gone. */
export type CurrentHashes = ReadonlyMap<string, string | null>;

/**
 * What differs between a call's key inputs (`now`) and those of a recorded
 * entry, one sentence per difference, in words a user can act on. Files the
 * recorded entry read are judged by `hashes` (their content now).
 */
export function describeDifferences(
  now: KeyDescription,
  cached: KeyDescription,
  hashes: CurrentHashes,
  callEnv: Readonly<Record<string, string>>,
  today: string,
): string[] {
  const out: string[] = [];
  const show = (path: string) => shortPath(path, now.cwd);
  if (now.compilerIdentity !== cached.compilerIdentity) {
    out.push(`the compiler ${now.compilerPath} is not the one of the cached entry (its identity changed: upgraded, rebuilt or replaced)`);
  }
  if (now.family !== cached.family) out.push(`the compiler is handled as ${now.family} now (cached entry: ${cached.family})`);
  if (now.language !== cached.language) out.push(`the source is compiled as ${now.language} now (cached entry: ${cached.language})`);
  if (now.mode !== cached.mode) out.push(`the key mode is ${now.mode} now (cached entry: ${cached.mode}); see keyMode / REPRISE_KEY_MODE`);
  out.push(...argumentDifferences(now.args, cached.args));
  for (const name of [...new Set([...Object.keys(now.env), ...Object.keys(cached.env)])].sort()) {
    const a = now.env[name] ?? null;
    const b = cached.env[name] ?? null;
    if (a !== b) out.push(`environment variable ${name} differs (now ${showValue(a)}, in the cached entry ${showValue(b)})`);
  }
  if (now.cwd !== cached.cwd && (now.mode === "direct" || sameArgs(now.args, cached.args))) {
    out.push(`the working directory differs (now ${now.cwd}, cached entry ${cached.cwd}); it is part of the key${now.mode === "direct" ? " in direct mode" : " when it reaches the outputs (debug info)"}`);
  }
  if (now.colorDiagnostics !== cached.colorDiagnostics) {
    out.push(
      `diagnostics are ${now.colorDiagnostics ? "colored" : "not colored"} now (cached entry: ${cached.colorDiagnostics ? "colored" : "not colored"}); color follows whether stderr is a terminal, GCC_COLORS and -fdiagnostics-color`,
    );
  }
  if (now.sourceHash !== cached.sourceHash) out.push(`the source ${show(now.source)} changed since the cached entry (content differs)`);
  for (const f of cached.extraInputs) {
    const current = now.extraInputs.find((e) => e.path === f.path);
    if (current && current.hash !== f.hash) out.push(`${show(f.path)} changed since the cached entry (content differs)`);
  }
  for (const f of cached.headers ?? []) {
    const current = hashes.get(f.path);
    if (current === null) out.push(`${show(f.path)} no longer exists (the cached entry read it)`);
    else if (current !== undefined && current !== f.hash) out.push(`${show(f.path)} changed since the cached entry (content differs)`);
  }
  for (const p of cached.appeared ?? []) {
    out.push(`${show(p)} appeared since the cached entry: a header there comes before one the entry read on the include search, or a __has_include probe finds it`);
  }
  for (const v of cached.depEnv ?? []) {
    const a = callEnv[v.name] ?? null;
    if (!(v.name in now.env) && a !== v.value) out.push(`environment variable ${v.name} differs from the cached entry's (now ${showValue(a)}, in the cached entry ${showValue(v.value)}); the compile declared it as an input`);
  }
  if (cached.date && cached.date !== today) out.push(`the cached entry uses __DATE__ or __TIMESTAMP__ and was made on ${cached.date}: it only serves that day`);
  return out;
}

/** A path under the cwd as the user would write it; others as they are. */
export function shortPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

function showValue(v: string | null): string {
  return v === null ? "unset" : JSON.stringify(v);
}

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Arguments added and removed (by a longest common subsequence, so a moved
 * `-I` shows as such); an added and a removed one of the same option become
 * one "differs" sentence.
 */
export function argumentDifferences(now: readonly string[], cached: readonly string[]): string[] {
  const { added, removed } = listDiff(now, cached);
  const out: string[] = [];
  const unpaired = [...removed];
  for (const a of added) {
    const moved = unpaired.indexOf(a);
    if (moved >= 0) {
      out.push(`argument ${a} is in another place than in the cached entry (the order of arguments matters, e.g. for -I)`);
      unpaired.splice(moved, 1);
      continue;
    }
    const i = unpaired.findIndex((r) => optionName(r) === optionName(a));
    if (i >= 0) {
      out.push(`argument ${a} differs (cached entry had ${unpaired[i]})`);
      unpaired.splice(i, 1);
    } else out.push(`argument ${a} is new (the cached entry was compiled without it)`);
  }
  for (const r of unpaired) out.push(`argument ${r} is gone (the cached entry had it)`);
  if (!out.length && !sameArgs(now, cached)) out.push("the order of the arguments differs from the cached entry's");
  return out;
}

/** What makes two arguments "the same option with another value": -O2/-O3, -std=…, -DNAME=…, -march=…, opt-level=…. */
function optionName(arg: string): string {
  // The last alternative is the value of a separate option (rustc's `-C opt-level=2`).
  const m = /^(-[DU][^=]*|--?[^=]+=|-O|-g|-std=|-W[^=]*=|-f(?:no-)?[^=]+|-m[^=]+=|[^-][^=]*=)/.exec(arg);
  if (!m) return `\0${arg}`;
  return m[1]!.replace(/^-fno-/, "-f");
}

function listDiff(now: readonly string[], cached: readonly string[]): { added: string[]; removed: string[] } {
  const n = now.length;
  const m = cached.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = now[i] === cached[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const added: string[] = [];
  const removed: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (now[i] === cached[j]) {
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) added.push(now[i++]!);
    else removed.push(cached[j++]!);
  }
  while (i < n) added.push(now[i++]!);
  while (j < m) removed.push(cached[j++]!);
  return { added, removed };
}
