import type { ConfigInput } from "./schema.js";
import { ConfigError } from "../util/errors.js";

const TRUE_WORDS = ["1", "true", "yes", "on"];
const FALSE_WORDS = ["0", "false", "no", "off"];

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
  REPRISE_RECACHE: "recache",
  REPRISE_BASEDIRS: "baseDirs",
  REPRISE_PREPROCESSOR_FALLBACK: "preprocessorFallback",
  REPRISE_PREPROCESSOR_FALLBACK_COPIES: "preprocessorFallbackCopies",
  REPRISE_TEXT_DIGESTS: "textDigests",
  REPRISE_REMOTE_CONNECT_TIMEOUT_MS: "remote.connectTimeoutMs",
  REPRISE_REMOTE_TIMEOUT_MS: "remote.requestTimeoutMs",
  REPRISE_REMOTE_BREAKER_COOLDOWN_MS: "remote.breakerCooldownMs",
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
  REPRISE_DIST_PREFER_PLATFORM: "preferPlatform",
  REPRISE_DIST_CROSS_ARCH: "crossArch",
} as const;

/** Every variable that changes settings (part of the settings cache key). */
export const ALL_ENV_KEYS: readonly string[] = [...Object.keys(ENV_KEYS), ...Object.keys(DIST_ENV_KEYS)];

function distFromEnv(env: Readonly<Record<string, string | undefined>>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(DIST_ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    if (key === "enabled" || key === "crossArch") out[key] = !FALSE_WORDS.includes(raw.trim().toLowerCase());
    else if (key === "jobTimeoutMs" || key === "allocateTimeoutMs") out[key] = /^\d+$/.test(raw) ? Number(raw) : raw;
    else out[key] = raw;
  }
  return Object.keys(out).length ? out : undefined;
}

function parseBoolean(name: string, key: string, raw: string): boolean {
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  throw new ConfigError(`invalid config in ${name}`, `"${key}": ${JSON.stringify(raw)} is not a boolean (accepted: ${[...TRUE_WORDS, ...FALSE_WORDS].join(", ")})`);
}

function parseWholeNumber(name: string, key: string, raw: string): number {
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim());
  throw new ConfigError(`invalid config in ${name}`, `"${key}": ${JSON.stringify(raw)} is not a whole number (examples: 0, 8, 600)`);
}

/**
 * Values from the environment: booleans and numbers are checked here (a bad
 * one is a ConfigError naming the variable and what it accepts); the rest is
 * validated with the config schema.
 */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    switch (key) {
      case "remote.connectTimeoutMs":
      case "remote.requestTimeoutMs":
      case "remote.breakerCooldownMs": {
        const remote = (out.remote ??= {}) as Record<string, unknown>;
        remote[key.slice("remote.".length)] = parseWholeNumber(name, key, raw);
        break;
      }
      case "disable":
      case "recache":
      case "preprocessorFallback":
      case "preprocessorFallbackCopies":
      case "textDigests":
        out[key] = parseBoolean(name, key, raw);
        break;
      case "idleTimeout":
      case "maxJobs":
        out[key] = parseWholeNumber(name, key, raw);
        break;
      case "plugins":
        out[key] = raw.split(",").map((s) => s.trim()).filter(Boolean);
        break;
      case "baseDirs":
        out[key] = raw.split(":").filter(Boolean);
        break;
      case "storage":
        out[key] = { kind: raw };
        break;
      case "hermetic":
        out[key] = FALSE_WORDS.includes(raw.trim().toLowerCase()) ? false : raw;
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
