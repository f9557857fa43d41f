import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { daemonLogPath } from "../util/paths.js";

export const DAEMON_ENTRY = fileURLToPath(new URL("../daemon/entry.js", import.meta.url));

/** Starts the daemon detached from this process; its early errors go to the daemon log. */
export function spawnDaemon(runtime: string): void {
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const log = openSync(daemonLogPath(runtime), "a", 0o600);
  try {
    const child = spawn(process.execPath, [DAEMON_ENTRY], {
      detached: true,
      stdio: ["ignore", "ignore", log],
      env: process.env,
      cwd: process.cwd(),
    });
    child.unref();
  } finally {
    closeSync(log);
  }
}
