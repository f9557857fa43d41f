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
  REPRISE_RECACHE: "recache",
  REPRISE_REMOTE_CONNECT_TIMEOUT_MS: "remote.connectTimeoutMs",
  REPRISE_REMOTE_TIMEOUT_MS: "remote.requestTimeoutMs",
  REPRISE_REMOTE_BREAKER_COOLDOWN_MS: "remote.breakerCooldownMs",
} as const;

/** Raw values from the environment, typed loosely: validation happens with the config schema. */
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
        remote[key.slice("remote.".length)] = /^\d+$/.test(raw) ? Number(raw) : raw;
        break;
      }
      case "disable":
      case "recache":
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
  return out satisfies Partial<Record<keyof ConfigInput, unknown>>;
}
