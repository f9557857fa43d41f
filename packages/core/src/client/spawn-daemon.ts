import { spawn } from "node:child_process";
import { closeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { daemonLogPath } from "../util/paths.js";
import { openForAppend } from "../util/private-file.js";

export const DAEMON_ENTRY = fileURLToPath(new URL("../daemon/entry.js", import.meta.url));

/** Exit status of the daemon entry when another daemon already holds the runtime directory's lock. */
export const EXIT_LOCK_HELD = 0;

export interface SpawnedDaemon {
  /** undefined while it runs; its exit status once it has exited (as a daemon only does when it could not start). */
  readonly exitCode: number | undefined;
}

/**
 * Starts the daemon detached from this process, in a runtime directory the
 * caller has checked; its early errors go to the daemon log. Watching its
 * exit lets the caller stop waiting for a daemon that died at start-up.
 */
export function spawnDaemon(runtime: string): SpawnedDaemon {
  const state: { exitCode: number | undefined } = { exitCode: undefined };
  const log = openForAppend(daemonLogPath(runtime));
  try {
    const child = spawn(process.execPath, [DAEMON_ENTRY], {
      detached: true,
      stdio: ["ignore", "ignore", log],
      env: process.env,
      cwd: process.cwd(),
    });
    child.on("error", () => (state.exitCode = 127));
    child.on("exit", (code, signal) => (state.exitCode = code ?? (signal ? 128 : 1)));
    child.unref();
  } finally {
    closeSync(log);
  }
  return state;
}
