import { accessSync, constants as fsConstants, readFileSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

const SYSTEM_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** Absolute path of an executable: `name` itself when it contains a slash, else searched on PATH and the usual system directories. */
export function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const runnable = (p: string) => {
    try {
      accessSync(p, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (name.includes("/")) return isAbsolute(name) && runnable(name) ? name : undefined;
  const dirs = [...(env.PATH ?? "").split(delimiter).filter(Boolean), ...SYSTEM_DIRS];
  for (const d of dirs) {
    const p = join(d, name);
    if (runnable(p)) return p;
  }
  return undefined;
}

/** This process's hard resource limits from /proc/self/limits, by the kernel's names ("Max open files"); null = unlimited. */
export function processLimits(): Map<string, number | null> {
  const out = new Map<string, number | null>();
  let text: string;
  try {
    text = readFileSync("/proc/self/limits", "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n").slice(1)) {
    const m = /^(.+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    out.set(m[1]!.trim(), m[3] === "unlimited" ? null : Number(m[3]));
  }
  return out;
}

/** `version` (dotted numbers, e.g. "0.8.0") is at least `min`. */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split(".").map((x) => parseInt(x, 10) || 0);
  const b = min.split(".").map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}
