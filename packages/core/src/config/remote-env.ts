import { ConfigError } from "../util/errors.js";

/**
 * The environment variables that select and configure the first-party remote
 * backends, named after sccache's (`SCCACHE_REDIS_ENDPOINT` →
 * `REPRISE_REDIS_ENDPOINT`, ...) so its users switch by renaming. Values are
 * passed to the backend as strings; each backend validates its own options.
 */
export interface RemoteBackendEnv {
  kind: string;
  /** Setting this variable selects the backend. */
  trigger: string;
  /** Option name → variable. */
  options: Readonly<Record<string, string>>;
  /** READ_ONLY or READ_WRITE (default). */
  rwMode: string;
}

/** In the order their levels are asked, fastest first, after the local disk. */
export const REMOTE_BACKEND_ENV: readonly RemoteBackendEnv[] = [
  {
    kind: "redis",
    trigger: "REPRISE_REDIS_ENDPOINT",
    options: {
      endpoint: "REPRISE_REDIS_ENDPOINT",
      username: "REPRISE_REDIS_USERNAME",
      password: "REPRISE_REDIS_PASSWORD",
      db: "REPRISE_REDIS_DB",
      ttl: "REPRISE_REDIS_TTL",
      expiration: "REPRISE_REDIS_EXPIRATION",
      keyPrefix: "REPRISE_REDIS_KEY_PREFIX",
    },
    rwMode: "REPRISE_REDIS_RW_MODE",
  },
  {
    kind: "memcached",
    trigger: "REPRISE_MEMCACHED_ENDPOINT",
    options: {
      endpoint: "REPRISE_MEMCACHED_ENDPOINT",
      username: "REPRISE_MEMCACHED_USERNAME",
      password: "REPRISE_MEMCACHED_PASSWORD",
      expiration: "REPRISE_MEMCACHED_EXPIRATION",
      keyPrefix: "REPRISE_MEMCACHED_KEY_PREFIX",
      maxItemSize: "REPRISE_MEMCACHED_MAX_ITEM_SIZE",
    },
    rwMode: "REPRISE_MEMCACHED_RW_MODE",
  },
  {
    kind: "webdav",
    trigger: "REPRISE_WEBDAV_ENDPOINT",
    options: {
      endpoint: "REPRISE_WEBDAV_ENDPOINT",
      keyPrefix: "REPRISE_WEBDAV_KEY_PREFIX",
      username: "REPRISE_WEBDAV_USERNAME",
      password: "REPRISE_WEBDAV_PASSWORD",
      token: "REPRISE_WEBDAV_TOKEN",
    },
    rwMode: "REPRISE_WEBDAV_RW_MODE",
  },
  {
    kind: "s3",
    trigger: "REPRISE_BUCKET",
    options: {
      bucket: "REPRISE_BUCKET",
      endpoint: "REPRISE_ENDPOINT",
      region: "REPRISE_REGION",
      keyPrefix: "REPRISE_S3_KEY_PREFIX",
      useSsl: "REPRISE_S3_USE_SSL",
      noCredentials: "REPRISE_S3_NO_CREDENTIALS",
    },
    rwMode: "REPRISE_S3_RW_MODE",
  },
];

/** Every variable above plus the local level's mode: the settings cache keys on them. */
export const REMOTE_ENV_NAMES: readonly string[] = [
  ...new Set(REMOTE_BACKEND_ENV.flatMap((b) => [...Object.values(b.options), b.rwMode])),
  "REPRISE_LOCAL_RW_MODE",
];

export interface EnvLevel {
  kind: string;
  options: Record<string, string>;
  readOnly: boolean;
}

/** READ_ONLY / READ_WRITE (sccache's values, any case); undefined when unset. */
export function parseRwMode(env: Readonly<Record<string, string | undefined>>, variable: string): boolean | undefined {
  const raw = env[variable];
  if (raw === undefined || raw === "") return undefined;
  const v = raw.trim().toUpperCase().replace(/-/g, "_");
  if (v === "READ_ONLY" || v === "RO") return true;
  if (v === "READ_WRITE" || v === "RW") return false;
  throw new ConfigError(`invalid ${variable}`, `"${raw}" is not READ_ONLY or READ_WRITE`);
}

/** The remote levels the environment selects; their options are validated by their backends. */
export function remoteLevelsFromEnv(env: Readonly<Record<string, string | undefined>>): EnvLevel[] {
  const levels: EnvLevel[] = [];
  for (const b of REMOTE_BACKEND_ENV) {
    if (!env[b.trigger]) continue;
    const options: Record<string, string> = {};
    for (const [name, variable] of Object.entries(b.options)) {
      const v = env[variable];
      if (v !== undefined && v !== "") options[name] = v;
    }
    levels.push({ kind: b.kind, options, readOnly: parseRwMode(env, b.rwMode) ?? false });
  }
  return levels;
}
