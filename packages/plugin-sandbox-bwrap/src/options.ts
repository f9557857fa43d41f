/** Options of the bwrap sandbox (config `sandboxOptions`). */
export interface BwrapOptions {
  /** The bwrap program (default: `bwrap` on PATH). */
  bwrap?: string;
  /**
   * The prlimit program that sets the file-size, address-space and core
   * limits when jobs are not started through the launcher (default: `prlimit`
   * on PATH; `false` = no such limits, either way).
   */
  prlimit?: string | false;
  /** User and group ids the job runs as inside the sandbox (default 65534, "nobody"). */
  uid?: number;
  gid?: number;
  /** Host name inside the sandbox (default "reprise"). */
  hostname?: string;
  /** Enforce `limits.memoryBytes` as each process's address-space limit (RLIMIT_AS). Default true. */
  limitAddressSpace?: boolean;
  /** How often the size of the job's writable directories is checked, in ms (default 200). */
  pollIntervalMs?: number;
  /**
   * Enforce `limits.maxProcesses` and `limits.memoryBytes` for the job as a
   * whole with a cgroup per job (default true). When no cgroup can be made
   * here the sandbox is unusable and says why; `false` runs jobs without that
   * ceiling (a fork bomb then runs until the time limit).
   */
  enforceLimits?: boolean;
  /**
   * How the job's /proc is made: "mount" (default) mounts a new proc for the
   * job's own pid namespace; "bind" binds the surrounding /proc read-only and
   * keeps the surrounding pid namespace, for hosts where a nested proc mount
   * is refused (a builder inside an emulated root entered with bwrap, see
   * docs/cross-arch.md). Every other isolation (user, network, IPC, UTS,
   * read-only root, limits) stays.
   */
  proc?: "mount" | "bind";
  /**
   * Start jobs through core's job launcher, a small native helper process
   * (default true): a spawn from Node forks the whole Node process. `false`,
   * or no native helper built, spawns bwrap from Node as before.
   */
  launcher?: boolean;
}

export type ParsedBwrapOptions = Required<Omit<BwrapOptions, "bwrap" | "prlimit">> & Pick<BwrapOptions, "bwrap" | "prlimit">;

const KNOWN = ["bwrap", "prlimit", "uid", "gid", "hostname", "limitAddressSpace", "pollIntervalMs", "enforceLimits", "proc", "launcher"];

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks options from config; a problem is returned as a message naming the key.
 *
 * `sandboxOptions` is shared by every sandbox a `hermetic` setting names
 * ("bwrap,docker"), so besides its own keys it may hold one object per
 * sandbox name: `{ "bwrap": { "uid": 1000 }, "docker": { "engine": "podman" } }`.
 * The `bwrap` section (an object; a string `bwrap` is the program) is applied over the top-level keys; other
 * object-valued keys are other sandboxes' sections and are left alone. Any
 * other unknown key is an error.
 */
export function parseBwrapOptions(raw: Record<string, unknown> | undefined): ParsedBwrapOptions | string {
  let o: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (key === "bwrap" && isPlainObject(value)) continue; // this sandbox's section, applied below
    if (KNOWN.includes(key)) o[key] = value;
    else if (!isPlainObject(value)) return `unknown option "${key}" (known: ${KNOWN.join(", ")})`;
  }
  const section = raw?.bwrap;
  if (isPlainObject(section)) {
    for (const key of Object.keys(section)) if (!KNOWN.includes(key)) return `unknown option "bwrap.${key}" (known: ${KNOWN.join(", ")})`;
    o = { ...o, ...section };
  }
  const id = (key: string): number | string => {
    const v = o[key] ?? 65534;
    return typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 32 ? v : `option "${key}" must be a non-negative integer`;
  };
  const uid = id("uid");
  if (typeof uid === "string") return uid;
  const gid = id("gid");
  if (typeof gid === "string") return gid;
  if (o.bwrap !== undefined && (typeof o.bwrap !== "string" || !o.bwrap)) return `option "bwrap" must be a program name or path`;
  if (o.prlimit !== undefined && o.prlimit !== false && (typeof o.prlimit !== "string" || !o.prlimit)) return `option "prlimit" must be a program name, a path or false`;
  if (o.hostname !== undefined && (typeof o.hostname !== "string" || !/^[A-Za-z0-9.-]{1,63}$/.test(o.hostname))) return `option "hostname" must be a host name`;
  if (o.limitAddressSpace !== undefined && typeof o.limitAddressSpace !== "boolean") return `option "limitAddressSpace" must be true or false`;
  if (o.enforceLimits !== undefined && typeof o.enforceLimits !== "boolean") return `option "enforceLimits" must be true or false`;
  if (o.proc !== undefined && o.proc !== "mount" && o.proc !== "bind") return `option "proc" must be "mount" or "bind"`;
  if (o.launcher !== undefined && typeof o.launcher !== "boolean") return `option "launcher" must be true or false`;
  const poll = o.pollIntervalMs ?? 200;
  if (typeof poll !== "number" || !(poll >= 10 && poll <= 60_000)) return `option "pollIntervalMs" must be a number of milliseconds between 10 and 60000`;
  return {
    ...(o.bwrap !== undefined ? { bwrap: o.bwrap as string } : {}),
    ...(o.prlimit !== undefined ? { prlimit: o.prlimit as string | false } : {}),
    uid,
    gid,
    hostname: (o.hostname as string | undefined) ?? "reprise",
    limitAddressSpace: (o.limitAddressSpace as boolean | undefined) ?? true,
    pollIntervalMs: poll,
    enforceLimits: (o.enforceLimits as boolean | undefined) ?? true,
    proc: (o.proc as "mount" | "bind" | undefined) ?? "mount",
    launcher: (o.launcher as boolean | undefined) ?? true,
  };
}
