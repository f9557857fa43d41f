import { lstatSync, rmSync } from "node:fs";
import { fnv1a64Hex } from "../util/fnv1a.js";
import { startupFailurePath } from "../util/paths.js";
import { readPrivate, writePrivate } from "../util/private-file.js";

/**
 * A daemon that cannot start (a bad setting, a missing plugin) leaves its
 * reason in the runtime directory and exits non-zero; the client that
 * started it sees the exit, prints the reason and compiles without waiting.
 * Clients that call soon after from the same place, with the same settings,
 * take the recorded reason instead of starting a daemon that would fail the
 * same way (a build is many calls).
 */
export interface StartupFailure {
  message: string;
  /** What decided the failure: see failureKey. */
  key: string;
}

/** How long (by the file's mtime) a recorded failure stands for calls with the same key. */
export const STARTUP_FAILURE_VALID_MS = 10_000;

/**
 * Where the config search starts and the environment that decides the
 * settings (REPRISE_*, HOME, XDG_CONFIG_HOME, sorted by name), hashed; the
 * native client computes the same key from its own cwd and environment.
 */
export function failureKey(cwd: string, env: NodeJS.ProcessEnv): string {
  const names = Object.keys(env)
    .filter((k) => k.startsWith("REPRISE_") || k === "HOME" || k === "XDG_CONFIG_HOME")
    .sort();
  return fnv1a64Hex([cwd, ...names.map((k) => `${k}=${env[k] ?? ""}`)].join("\0"));
}

export function recordStartupFailure(runtime: string, err: unknown, cwd: string, env: NodeJS.ProcessEnv): void {
  const failure: StartupFailure = { message: String((err as Error).message ?? err).trim(), key: failureKey(cwd, env) };
  try {
    writePrivate(startupFailurePath(runtime), JSON.stringify(failure));
  } catch {
    // the reason still goes to the daemon log (stderr)
  }
}

export function clearStartupFailure(runtime: string): void {
  rmSync(startupFailurePath(runtime), { force: true });
}

export function readStartupFailure(runtime: string): StartupFailure | undefined {
  const text = readPrivate(startupFailurePath(runtime));
  if (!text) return undefined;
  try {
    const f = JSON.parse(text) as StartupFailure;
    return typeof f.message === "string" && typeof f.key === "string" ? f : undefined;
  } catch {
    return undefined;
  }
}

/** A failure recorded lately for a call from the same cwd with the same settings environment. */
export function recentFailureFor(runtime: string, cwd: string, env: NodeJS.ProcessEnv, now = Date.now()): StartupFailure | undefined {
  const st = lstatSync(startupFailurePath(runtime), { throwIfNoEntry: false });
  if (!st?.isFile() || now - st.mtimeMs > STARTUP_FAILURE_VALID_MS || st.mtimeMs > now + 1000) return undefined;
  const f = readStartupFailure(runtime);
  return f && f.key === failureKey(cwd, env) ? f : undefined;
}
