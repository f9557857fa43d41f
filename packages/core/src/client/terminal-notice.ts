import { lstatSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { createExclusive } from "../util/private-file.js";

/**
 * How long one message stays quiet after it was printed. A build prints a bad
 * setting once, not once per compile; a build that runs longer shows it again
 * each minute, so it is not lost above the rest of the build's output.
 */
export const NOTICE_WINDOW_MS = 60_000;

/** FNV-1a, 64 bits, of the UTF-8 bytes: the native client computes the same marker name. */
export function noticeKey(message: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(message, "utf8")) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
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
