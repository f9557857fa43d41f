import { tmpdir } from "node:os";
import { join } from "node:path";

/** Options of the container sandbox (config `sandboxOptions`, plugin options). */
export interface ContainerOptions {
  /**
   * Which command line: "auto" (the default for `hermetic: "docker"`: docker,
   * else podman, the first whose engine answers and runs a container here),
   * "docker", "podman" (the default for `hermetic: "podman"`), or a path to
   * either program.
   */
  engine?: string;
  /** OCI runtime. Default: podman gets `--runtime runc` when runc is installed (crun refuses hybrid cgroups); docker uses its daemon's. */
  runtime?: string;
  /** Arguments placed before every subcommand: docker's `--host unix:///…`, podman's `--root`/`--runroot`/`--url`. */
  globalArgs?: string[];
  /** `uid:gid` the job runs as in the container (default "65534:65534"). Never 0. */
  user?: string;
  /** CPUs a job may use (`--cpus`, default 1). */
  cpus?: number;
  /** Resource limits (`--ulimit name=soft:hard`); default nofile and nproc at this process's hard limits, which the engine may not exceed. */
  ulimits?: Record<string, string>;
  /** Repository the toolchain images are tagged in (default "localhost/reprise-toolchain"); the tag is the toolchain id. */
  imageRepository?: string;
  /** Most toolchain images kept; past it the least recently used are removed (default 8; 0 keeps all). */
  maxImages?: number;
  /** Directory of this plugin's lock and last-use files (default `<tmpdir>/reprise-containers-<uid>`). */
  stateDir?: string;
  /** How often the size of the job's writable directories is checked, in ms (default 200). */
  pollIntervalMs?: number;
  /** More `run` arguments, placed before the image. */
  extraRunArgs?: string[];
}

export interface ParsedContainerOptions {
  engine: string;
  runtime?: string;
  globalArgs: string[];
  uid: number;
  gid: number;
  cpus: number;
  ulimits: Record<string, string>;
  imageRepository: string;
  maxImages: number;
  stateDir: string;
  pollIntervalMs: number;
  extraRunArgs: string[];
}

const KNOWN = ["engine", "runtime", "globalArgs", "user", "cpus", "ulimits", "imageRepository", "maxImages", "stateDir", "pollIntervalMs", "extraRunArgs"];

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks options; a problem is returned as a message naming the key.
 *
 * `sandboxOptions` is shared by every sandbox a `hermetic` setting names, so
 * besides its own keys it may hold one object per sandbox name:
 * `{ "docker": { "engine": "podman" }, "bwrap": { … } }`. The sections named
 * in `sections` (this sandbox's names) are applied over the top-level keys;
 * other object-valued keys are taken as other sandboxes' sections and left
 * alone. Any other unknown key is an error.
 */
export function parseContainerOptions(raw: Record<string, unknown> | undefined, sections: string[] = []): ParsedContainerOptions | string {
  let o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    if (KNOWN.includes(k)) o[k] = v;
    else if (!isPlainObject(v)) return `unknown option "${k}" (known: ${KNOWN.join(", ")})`;
  }
  for (const s of sections) {
    const section = raw?.[s];
    if (section === undefined) continue;
    for (const k of Object.keys(section as object)) if (!KNOWN.includes(k)) return `unknown option "${s}.${k}" (known: ${KNOWN.join(", ")})`;
    o = { ...o, ...(section as Record<string, unknown>) };
  }
  const engine = o.engine ?? "auto";
  if (typeof engine !== "string" || !engine) return `option "engine" must be "auto", "docker", "podman" or a path to either`;
  if (o.runtime !== undefined && (typeof o.runtime !== "string" || !/^[\w./-]+$/.test(o.runtime))) return `option "runtime" must be a runtime name or path`;
  const globalArgs = o.globalArgs ?? [];
  if (!Array.isArray(globalArgs) || globalArgs.some((a) => typeof a !== "string")) return `option "globalArgs" must be a list of strings`;
  const user = o.user ?? "65534:65534";
  const um = typeof user === "string" ? /^(\d+):(\d+)$/.exec(user) : null;
  if (!um) return `option "user" must be "uid:gid" in numbers`;
  if (Number(um[1]) === 0) return `option "user": jobs never run as root`;
  const cpus = o.cpus ?? 1;
  if (typeof cpus !== "number" || !(cpus > 0 && cpus <= 1024)) return `option "cpus" must be a positive number`;
  const ulimits = o.ulimits ?? {};
  if (!isPlainObject(ulimits)) return `option "ulimits" must be an object like { "nofile": "1024:1024" }`;
  for (const [k, v] of Object.entries(ulimits)) {
    if (!/^[a-z]+$/.test(k) || typeof v !== "string" || !/^-?\d+(:-?\d+)?$/.test(v)) return `option "ulimits.${k}" must be "soft:hard" in numbers`;
  }
  const repo = o.imageRepository ?? "localhost/reprise-toolchain";
  if (typeof repo !== "string" || !/^[a-z0-9]+(?:[._/:-][a-z0-9]+)*$/.test(repo)) return `option "imageRepository" must be an image repository name`;
  const maxImages = o.maxImages ?? 8;
  if (typeof maxImages !== "number" || !Number.isInteger(maxImages) || maxImages < 0) return `option "maxImages" must be a whole number (0 keeps every image)`;
  const stateDir = o.stateDir ?? join(tmpdir(), `reprise-containers-${process.getuid?.() ?? "user"}`);
  if (typeof stateDir !== "string" || !stateDir.startsWith("/")) return `option "stateDir" must be an absolute path`;
  const poll = o.pollIntervalMs ?? 200;
  if (typeof poll !== "number" || !(poll >= 10 && poll <= 60_000)) return `option "pollIntervalMs" must be a number of milliseconds between 10 and 60000`;
  const extra = o.extraRunArgs ?? [];
  if (!Array.isArray(extra) || extra.some((a) => typeof a !== "string")) return `option "extraRunArgs" must be a list of strings`;
  return {
    engine,
    ...(o.runtime !== undefined ? { runtime: o.runtime as string } : {}),
    globalArgs: globalArgs as string[],
    uid: Number(um[1]),
    gid: Number(um[2]),
    cpus,
    ulimits: ulimits as Record<string, string>,
    imageRepository: repo,
    maxImages,
    stateDir,
    pollIntervalMs: poll,
    extraRunArgs: extra as string[],
  };
}
