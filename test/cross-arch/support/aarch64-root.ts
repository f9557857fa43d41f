/**
 * A genuine aarch64 machine on this x86_64 host (docs/cross-arch.md): the
 * arm64 Debian root of scripts/setup-cross-arch.sh, entered with the host's
 * bwrap (a chroot cannot make the user namespaces the jobs' sandbox needs),
 * its programs run by qemu-user through binfmt_misc. The repository is bound
 * read-only at its own path and each test's work directory read-write at its
 * own path, so paths are the same inside and out.
 */
import { execa, type Options } from "execa";
import { join } from "node:path";
import { builderConfig, startListeningProcess, type BuilderOptions, type FarmProcess } from "../../support/farm-processes.js";
import { REPO_ROOT } from "../../support/reprise-env.js";

/** Where the root holds npm's arm64 Node. */
export const ROOT_NODE = "/opt/node/bin/node";
const ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface RootSession {
  /** The arm64 root on the host. */
  root: string;
  /** Host directories bound read-write at their own paths. */
  workDirs: string[];
}

/**
 * The host bwrap arguments that make `session.root` the whole filesystem.
 * `detached`: no new pid namespace and no death signal, so that a daemon the
 * command starts outlives it (a later command reaches it through its socket
 * in a work directory).
 */
export function rootArguments(session: RootSession, options: { detached?: boolean } = {}): string[] {
  const a = ["--bind", session.root, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", "/sys", "/sys"];
  // The builder's jobs get their own cgroups, as on any builder.
  a.push("--bind", "/sys/fs/cgroup", "/sys/fs/cgroup");
  a.push("--ro-bind", REPO_ROOT, REPO_ROOT);
  for (const dir of session.workDirs) a.push("--bind", dir, dir);
  if (!options.detached) a.push("--unshare-pid", "--die-with-parent");
  return a;
}

/** Runs `argv` inside the root (an aarch64 program runs emulated), with `env` only (plus PATH and the C locale). */
export function inRoot(session: RootSession, argv: string[], options: { env?: Record<string, string>; cwd?: string; detached?: boolean } & Omit<Options, "env" | "cwd"> = {}) {
  const { env, cwd, detached, ...rest } = options;
  const setenv = Object.entries({ PATH: ROOT_PATH, LC_ALL: "C", HOME: "/root", ...env }).flatMap(([k, v]) => ["--setenv", k, v]);
  return execa("bwrap", [...rootArguments(session, { detached }), "--clearenv", ...setenv, ...(cwd ? ["--chdir", cwd] : []), "--", ...argv], {
    reject: false,
    encoding: "buffer",
    stripFinalNewline: false,
    extendEnv: false,
    env: {},
    ...rest,
  });
}

/**
 * `reprise-dist builder` as an aarch64 Node process inside the root. Its
 * jobs are sandboxed with the root's amd64 bwrap; a nested proc mount is
 * refused under this arrangement, so the builder uses `proc: "bind"`.
 */
export function startAarch64Builder(session: RootSession, o: BuilderOptions): Promise<FarmProcess> {
  const config = builderConfig({ ...o, sandbox: "bwrap", sandboxOptions: { proc: "bind", ...o.sandboxOptions } });
  const dist = join(REPO_ROOT, "packages/dist/dist/bin/reprise-dist.js");
  const setenv = Object.entries({ PATH: ROOT_PATH, LC_ALL: "C", HOME: "/root" }).flatMap(([k, v]) => ["--setenv", k, v]);
  // Emulated Node starts slowly and the builder packages its own clang (and compiles a canary) before it listens.
  return startListeningProcess("bwrap", [...rootArguments(session), "--clearenv", ...setenv, "--", ROOT_NODE, dist, "builder", "--config", config], {}, 600_000);
}

/** The Node client of the repository, run by the root's arm64 Node. */
export const ROOT_REPRISE = [ROOT_NODE, join(REPO_ROOT, "packages/core/dist/bin/reprise.js")];
