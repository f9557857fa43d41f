import { lstatSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { fnv1a64Hex } from "../util/fnv1a.js";
import { createExclusive } from "../util/private-file.js";

/**
 * How long one message stays quiet after it was printed. A build prints a bad
 * setting once, not once per compile; a build that runs longer shows it again
 * each minute, so it is not lost above the rest of the build's output.
 */
export const NOTICE_WINDOW_MS = 60_000;

/** The marker's name for a message: the native client computes the same. */
export function noticeKey(message: string): string {
  return fnv1a64Hex(message);
}

/**
 * Prints `reprise: <message> (compiling without cache)` on stderr unless the same message was printed
 * in the last NOTICE_WINDOW_MS by any client of this user: the marker is a
 * file `notice-<key>` in the (checked, private) runtime directory, created
 * exclusively so that of parallel compiles only one prints.
 */
export function printNoticeOnce(runtime: string, message: string, now = Date.now()): boolean {
  const marker = join(runtime, `notice-${noticeKey(message)}`);
  const st = lstatSync(marker, { throwIfNoEntry: false });
  if (st?.isFile() && now - st.mtimeMs < NOTICE_WINDOW_MS) return false;
  if (st) {
    try {
      unlinkSync(marker);
    } catch {
      // another client renewed it first
    }
  }
  if (!createExclusive(marker)) return false;
  process.stderr.write(`reprise: ${message} (compiling without cache)\n`);
  return true;
}
