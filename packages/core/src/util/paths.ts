import { homedir, tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";

/** Directory holding the daemon's socket, lock and log: private to the user (0700). */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REPRISE_RUNTIME_DIR) return resolve(env.REPRISE_RUNTIME_DIR);
  const base = env.XDG_RUNTIME_DIR || tmpdir();
  return join(base, `reprise-${userInfo().uid}`);
}

export function socketPath(runtime: string): string {
  return join(runtime, "daemon.sock");
}

export function daemonLogPath(runtime: string): string {
  return join(runtime, "daemon.log");
}

export function daemonLockPath(runtime: string): string {
  return join(runtime, "daemon.lock");
}

/** Default cache directory when neither REPRISE_DIR nor config sets one. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache");
  return join(base, "reprise");
}

/** The user's config directory, searched after the project's own config. */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "reprise");
}

/** Where a daemon that could not start leaves its reason, for the client that started it to print. */
export function startupFailurePath(runtime: string): string {
  return join(runtime, "daemon.failed");
}
