import { mkdirSync } from "node:fs";
import { runtimeDir, socketPath } from "../util/paths.js";
import { checkOwnSocket, checkPrivateDir, refusalMessage } from "../util/private-dir.js";

export type RuntimeAccess =
  /** The directory is this user's alone; `socket` is whether a socket of this user's is there. */
  | { kind: "ok"; runtime: string; sock: string; socket: boolean }
  /** Not there (and not asked to create it). */
  | { kind: "absent"; runtime: string; sock: string }
  /** Another user could control it: refused, and the refusal printed on stderr. */
  | { kind: "refused"; runtime: string }
  | { kind: "unusable"; runtime: string; error: string };

/**
 * The runtime directory as a client may use it: nothing is sent to, started
 * in or written to a directory or socket that another user could control.
 * With `create`, a missing directory is made (0700) and checked again, since
 * another user may have made it first.
 */
export function checkedRuntime(create: boolean, runtime = runtimeDir()): RuntimeAccess {
  const sock = socketPath(runtime);
  let dir = checkPrivateDir(runtime);
  if (dir.kind === "absent" && create) {
    try {
      mkdirSync(runtime, { recursive: true, mode: 0o700 });
    } catch (err) {
      return { kind: "unusable", runtime, error: `cannot create ${runtime}: ${(err as Error).message}` };
    }
    dir = checkPrivateDir(runtime);
  }
  switch (dir.kind) {
    case "unsafe":
      process.stderr.write(refusalMessage(runtime, dir.problem));
      return { kind: "refused", runtime };
    case "unusable":
      return { kind: "unusable", runtime, error: dir.problem };
    case "absent":
      return { kind: "absent", runtime, sock };
  }
  const s = checkOwnSocket(sock);
  if (s.kind === "unsafe") {
    process.stderr.write(refusalMessage(sock, s.problem));
    return { kind: "refused", runtime };
  }
  return { kind: "ok", runtime, sock, socket: s.kind === "ok" };
}
