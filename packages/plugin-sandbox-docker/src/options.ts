/** Options of the container sandbox (config `sandboxOptions`). */
export interface ContainerOptions {
  /** "auto" (default: podman, else docker, whichever answers), "podman", "docker", or a path to either program. */
  engine?: string;
  /** OCI runtime (`--runtime`). Default: `runc` with podman when runc is installed (crun refuses hybrid cgroups), the engine's own otherwise. */
  runtime?: string;
  /** `uid:gid` the job runs as in the container (default "65534:65534"). */
  user?: string;
  /** CPUs a job may use (`--cpus`, default 1). */
  cpus?: number;
  /** Resource limits (`--ulimit name=soft:hard`); default nofile and nproc at this process's hard limits, which the engine may not exceed. */
  ulimits?: Record<string, string>;
  /** Repository the toolchain images are tagged in (default "localhost/reprise-toolchain"); the tag is the toolchain id. */
  imageRepository?: string;
  /** How often the size of the job's writable directories is checked, in ms (default 200). */
  pollIntervalMs?: number;
  /** More `run` arguments, placed before the image. */
  extraRunArgs?: string[];
}

export interface ParsedContainerOptions {
  engine: string;
  runtime?: string;
  uid: number;
  gid: number;
  cpus: number;
  ulimits: Record<string, string>;
  imageRepository: string;
  pollIntervalMs: number;
  extraRunArgs: string[];
}

const KNOWN = ["engine", "runtime", "user", "cpus", "ulimits", "imageRepository", "pollIntervalMs", "extraRunArgs"];

/** Checks options from config; a problem is returned as a message naming the key. */
export function parseContainerOptions(raw: Record<string, unknown> | undefined): ParsedContainerOptions | string {
  const o = raw ?? {};
  for (const key of Object.keys(o)) if (!KNOWN.includes(key)) return `unknown option "${key}" (known: ${KNOWN.join(", ")})`;
  const engine = o.engine ?? "auto";
  if (typeof engine !== "string" || !engine) return `option "engine" must be "auto", "podman", "docker" or a path`;
  if (o.runtime !== undefined && (typeof o.runtime !== "string" || !/^[\w./-]+$/.test(o.runtime))) return `option "runtime" must be a runtime name or path`;
  const user = o.user ?? "65534:65534";
  const um = typeof user === "string" ? /^(\d+):(\d+)$/.exec(user) : null;
  if (!um) return `option "user" must be "uid:gid" in numbers`;
  const cpus = o.cpus ?? 1;
  if (typeof cpus !== "number" || !(cpus > 0 && cpus <= 1024)) return `option "cpus" must be a positive number`;
  const ulimits = o.ulimits ?? {};
  if (typeof ulimits !== "object" || ulimits === null || Array.isArray(ulimits)) return `option "ulimits" must be an object like { "nofile": "1024:1024" }`;
  for (const [k, v] of Object.entries(ulimits)) {
    if (!/^[a-z]+$/.test(k) || typeof v !== "string" || !/^-?\d+(:-?\d+)?$/.test(v)) return `option "ulimits.${k}" must be "soft:hard" in numbers`;
  }
  const repo = o.imageRepository ?? "localhost/reprise-toolchain";
  if (typeof repo !== "string" || !/^[a-z0-9]+(?:[._/:-][a-z0-9]+)*$/.test(repo)) return `option "imageRepository" must be an image repository name`;
  const poll = o.pollIntervalMs ?? 200;
  if (typeof poll !== "number" || !(poll >= 10 && poll <= 60_000)) return `option "pollIntervalMs" must be a number of milliseconds between 10 and 60000`;
  const extra = o.extraRunArgs ?? [];
  if (!Array.isArray(extra) || extra.some((a) => typeof a !== "string")) return `option "extraRunArgs" must be a list of strings`;
  return {
    engine,
    ...(o.runtime !== undefined ? { runtime: o.runtime as string } : {}),
    uid: Number(um[1]),
    gid: Number(um[2]),
    cpus,
    ulimits: ulimits as Record<string, string>,
    imageRepository: repo,
    pollIntervalMs: poll,
    extraRunArgs: extra as string[],
  };
}
