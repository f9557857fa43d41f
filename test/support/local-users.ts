import { execa, execaSync, type Options } from "execa";
import { chmodSync, chownSync, mkdtempSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const REPO_ROOT = resolve(import.meta.dirname, "../..");

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
  if (found) return grantReach(found);
  if (process.getuid?.() !== 0) throw new Error(`user ${name} does not exist and only root can create it (useradd -m ${name})`);
  const r = execaSync("useradd", ["-m", "-s", "/bin/sh", name], { reject: false });
  const made = lookup(name);
  // A parallel run may have created it between lookup and useradd.
  if (!made) throw new Error(`useradd ${name} failed: ${r.stderr}`);
  return grantReach(made);
}

/**
 * Lets a test user reach the checkout (and the Node binary) where an ancestor
 * directory is closed to others, as `/root` is when CI clones there: an ACL
 * entry giving that user alone the right to pass through (x), nothing else.
 * Kept after the test, like the user itself; the suite runs in parallel, so
 * no test may take it away from another.
 */
export function grantReach(user: Pick<LocalUser, "name">, paths: string[] = [REPO_ROOT, process.execPath]): LocalUser {
  for (const path of paths) {
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) {
        const r = execaSync("setfacl", ["-m", `u:${user.name}:x`, dir], { reject: false });
        if (r.exitCode !== 0) throw new Error(`cannot let ${user.name} pass through ${dir} (setfacl from Debian's acl package; npm run setup installs it): ${r.stderr || r.message}`);
      }
      if (dir === dirname(dir)) break;
    }
  }
  return lookup(user.name) ?? (user as LocalUser);
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
