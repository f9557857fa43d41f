import { rmSync } from "node:fs";
import { startupFailurePath } from "../util/paths.js";
import { writePrivate } from "../util/private-file.js";

/**
 * A daemon that cannot start (a bad setting, a missing plugin) leaves its
 * reason in the runtime directory and exits non-zero; the client that
 * started it sees the exit, prints the reason and compiles without waiting.
 */
export function recordStartupFailure(runtime: string, err: unknown): void {
  try {
    writePrivate(startupFailurePath(runtime), `${(err as Error).message ?? String(err)}\n`);
  } catch {
    // the reason still goes to the daemon log (stderr)
  }
}

export function clearStartupFailure(runtime: string): void {
  rmSync(startupFailurePath(runtime), { force: true });
}
