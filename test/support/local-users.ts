import { execa } from "execa";
import { chownSync, mkdirSync } from "node:fs";

export interface LocalUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * A real local account for tests about other users (made with useradd when
 * missing; tests run as root). Safe to call from parallel test files: an
 * account another file just created is taken as it is.
 */
export async function ensureLocalUser(name: string): Promise<LocalUser> {
  if (process.getuid?.() !== 0) throw new Error(`creating the local user ${name} needs root (run the tests as root)`);
  const lookup = async () => {
    const r = await execa("id", ["-u", name], { reject: false });
    if (r.exitCode !== 0) return undefined;
    const g = await execa("id", ["-g", name]);
    return { name, uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
  };
  const found = await lookup();
  if (found) return found;
  const made = await execa("useradd", ["--no-create-home", "--shell", "/usr/sbin/nologin", name], { reject: false });
  const user = await lookup();
  if (!user) throw new Error(`useradd ${name} failed: ${made.stderr}`);
  return user;
}

/** A directory owned by `user`, with `mode`. */
export function dirOwnedBy(path: string, user: LocalUser, mode = 0o700): string {
  mkdirSync(path, { recursive: true, mode });
  chownSync(path, user.uid, user.gid);
  return path;
}

/** Runs `cmd` as `user` (runuser, no login shell) with exactly `env`, in `cwd`. */
export function runAs(user: LocalUser, cmd: string, args: string[], cwd: string, env: Record<string, string>) {
  return execa("runuser", ["-u", user.name, "--", "env", "-i", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args], {
    cwd,
    reject: false,
    encoding: "buffer",
    stripFinalNewline: false,
  });
}
