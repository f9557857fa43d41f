import type { ConfigInput } from "./schema.js";

/** `REPRISE_*` variables and the config key each sets. Env wins over config files. */
export const ENV_KEYS = {
  REPRISE_DIR: "dir",
  REPRISE_CACHE_SIZE: "cacheSize",
  REPRISE_KEY_MODE: "keyMode",
  REPRISE_DISABLE: "disable",
  REPRISE_LOG: "logLevel",
  REPRISE_IDLE_TIMEOUT: "idleTimeout",
  REPRISE_MAX_JOBS: "maxJobs",
  REPRISE_PLUGINS: "plugins",
  REPRISE_STORAGE: "storage",
  REPRISE_HERMETIC: "hermetic",
} as const;

/** `REPRISE_DIST_*` variables and the key of `dist` each sets. */
export const DIST_ENV_KEYS = {
  REPRISE_DIST_SCHEDULER_URL: "schedulerUrl",
  REPRISE_DIST_TOKEN: "token",
  REPRISE_DIST_CA_FILE: "caFile",
  REPRISE_DIST: "enabled",
  REPRISE_DIST_MODE: "mode",
  REPRISE_DIST_FALLBACK: "fallback",
  REPRISE_DIST_JOB_TIMEOUT_MS: "jobTimeoutMs",
  REPRISE_DIST_ALLOCATE_TIMEOUT_MS: "allocateTimeoutMs",
} as const;

/** Every variable that changes settings (part of the settings cache key). */
export const ALL_ENV_KEYS: readonly string[] = [...Object.keys(ENV_KEYS), ...Object.keys(DIST_ENV_KEYS)];

const OFF = ["0", "false", "no", "off"];

function distFromEnv(env: Readonly<Record<string, string | undefined>>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(DIST_ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    if (key === "enabled") out[key] = !OFF.includes(raw.toLowerCase());
    else if (key === "jobTimeoutMs" || key === "allocateTimeoutMs") out[key] = /^\d+$/.test(raw) ? Number(raw) : raw;
    else out[key] = raw;
  }
  return Object.keys(out).length ? out : undefined;
}

/** Raw values from the environment, typed loosely: validation happens with the config schema. */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    switch (key) {
      case "disable":
        out[key] = !["0", "false", "no", "off"].includes(raw.toLowerCase());
        break;
      case "idleTimeout":
      case "maxJobs":
        out[key] = /^\d+$/.test(raw) ? Number(raw) : raw;
        break;
      case "plugins":
        out[key] = raw.split(",").map((s) => s.trim()).filter(Boolean);
        break;
      case "storage":
        out[key] = { kind: raw };
        break;
      case "hermetic":
        out[key] = ["0", "false", "no", "off"].includes(raw.toLowerCase()) ? false : raw;
        break;
      case "logLevel":
        out[key] = raw.toLowerCase();
        break;
      default:
        out[key] = raw;
    }
  }
  const dist = distFromEnv(env);
  if (dist) out.dist = dist;
  return out satisfies Partial<Record<keyof ConfigInput, unknown>>;
}
