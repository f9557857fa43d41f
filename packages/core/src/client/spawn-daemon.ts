import { spawn } from "node:child_process";
import { closeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { daemonLogPath } from "../util/paths.js";
import { openForAppend } from "../util/private-file.js";

export const DAEMON_ENTRY = fileURLToPath(new URL("../daemon/entry.js", import.meta.url));

/** Exit status of the daemon entry when another daemon already holds the runtime directory's lock. */
export const EXIT_LOCK_HELD = 0;

/**
 * V8 flags for the daemon's own process (never the client's, nor the
 * compilers'). Node 20's V8 has no Maglev tier, so every function that runs a
 * few hundred times goes to TurboFan, and a young daemon spends about a third
 * of its CPU compiling its own code; a larger interrupt budget leaves
 * TurboFan only the functions that stay hot (bench/results/2026-12-07-miss-lean.md).
 * Node 22 and later tier up through Maglev and keep V8's defaults (not measured with it).
 */
export function daemonNodeFlags(nodeVersion: string = process.versions.node): string[] {
  return nodeVersion.split(".")[0] === "20" ? ["--interrupt-budget=675840"] : [];
}

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
    const child = spawn(process.execPath, [...daemonNodeFlags(), DAEMON_ENTRY], {
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
