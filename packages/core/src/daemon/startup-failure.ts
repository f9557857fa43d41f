import { rmSync } from "node:fs";
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
  /** What decided the failure: where the config search started, and the settings from the environment. */
  cwd: string;
  settingsEnv: string[];
  at: number;
}

/** How long a recorded failure stands for calls with the same cwd and environment. */
export const STARTUP_FAILURE_VALID_MS = 10_000;

/** The environment that decides the settings: REPRISE_* and where the user's config directory is. */
export function settingsEnv(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter((k) => k.startsWith("REPRISE_") || k === "HOME" || k === "XDG_CONFIG_HOME")
    .sort()
    .map((k) => `${k}=${env[k] ?? ""}`);
}

export function recordStartupFailure(runtime: string, err: unknown, cwd: string, env: NodeJS.ProcessEnv): void {
  const failure: StartupFailure = { message: String((err as Error).message ?? err).trim(), cwd, settingsEnv: settingsEnv(env), at: Date.now() };
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
    return typeof f.message === "string" && typeof f.at === "number" && Array.isArray(f.settingsEnv) ? f : undefined;
  } catch {
    return undefined;
  }
}

/** A failure recorded lately for a call from the same cwd with the same settings environment. */
export function recentFailureFor(runtime: string, cwd: string, env: NodeJS.ProcessEnv, now = Date.now()): StartupFailure | undefined {
  const f = readStartupFailure(runtime);
  if (!f || now - f.at > STARTUP_FAILURE_VALID_MS || now < f.at || f.cwd !== cwd) return undefined;
  const mine = settingsEnv(env);
  return mine.length === f.settingsEnv.length && mine.every((v, i) => v === f.settingsEnv[i]) ? f : undefined;
}
