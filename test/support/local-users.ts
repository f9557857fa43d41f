import { execa, execaSync, type Options } from "execa";
import { chmodSync, chownSync, mkdtempSync } from "node:fs";
import { join } from "node:path";

export interface LocalUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function lookup(name: string): LocalUser | undefined {
  const r = execaSync("getent", ["passwd", name], { reject: false });
  if (r.exitCode !== 0) return undefined;
  const [, , uid, gid, , home] = r.stdout.trim().split(":");
  return { name, uid: Number(uid), gid: Number(gid), home: home! };
}

/**
 * A real local user (created with useradd when missing; needs root). Security
 * tests run a victim and an attacker as two such users.
 */
export function ensureUser(name: string): LocalUser {
  const found = lookup(name);
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error(`user ${name} does not exist and only root can create it (useradd -m ${name})`);
  const r = execaSync("useradd", ["-m", "-s", "/bin/sh", name], { reject: false });
  const made = lookup(name);
  // A parallel run may have created it between lookup and useradd.
  if (!made) throw new Error(`useradd ${name} failed: ${r.stderr}`);
  return made;
}

/** Runs `cmd` as `user` (real and effective uid and gid, no supplementary groups) with exactly `env`. */
export function runAs(user: LocalUser, cmd: string, args: string[], opts: { env: Record<string, string>; cwd: string } & Omit<Options, "env" | "cwd">) {
  const { env, cwd, ...rest } = opts;
  return execa("setpriv", ["--reuid", String(user.uid), "--regid", String(user.gid), "--clear-groups", "--", cmd, ...args], {
    env,
    extendEnv: false,
    cwd,
    reject: false,
    ...rest,
  });
}

/** A fresh directory owned by `user` (mode 0700 unless told). */
export function dirOwnedBy(user: LocalUser, parent: string, prefix: string, mode = 0o700): string {
  const dir = mkdtempSync(join(parent, prefix));
  chownSync(dir, user.uid, user.gid);
  chmodSync(dir, mode);
  return dir;
}

/** A world-writable sticky directory like /tmp, for a test's TMPDIR shared by several users. */
export function sharedStickyDir(parent: string, prefix: string): string {
  const dir = mkdtempSync(join(parent, prefix));
  chmodSync(dir, 0o1777);
  return dir;
}
