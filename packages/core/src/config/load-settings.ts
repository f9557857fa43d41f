import { cosmiconfig, type CosmiconfigResult } from "cosmiconfig";
import { availableParallelism } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { configSchema, type LevelSpec, type RemoteSettings, type Settings } from "./schema.js";
import { configFromEnv, ENV_KEYS } from "./env-overrides.js";
import { parseRwMode, REMOTE_ENV_NAMES, remoteLevelsFromEnv } from "./remote-env.js";
import { ConfigError } from "../util/errors.js";
import { defaultCacheDir, userConfigDir } from "../util/paths.js";

const MODULE_NAME = "reprise";

const DEFAULTS = {
  cacheSizeBytes: 10 * 1024 ** 3,
  keyMode: "direct",
  disable: false,
  logLevel: "error",
  idleTimeoutSec: 600,
  plugins: [],
  storage: { kind: "local" },
  remote: {
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 10_000,
    breakerErrorPercent: 50,
    breakerVolume: 3,
    breakerCooldownMs: 30_000,
  } satisfies RemoteSettings,
} as const;

const ENV_NAMES = [...Object.keys(ENV_KEYS), ...REMOTE_ENV_NAMES];

/**
 * Finds and validates settings for a call made in `cwd`: the nearest config
 * file from `cwd` upwards, else the user's config dir, then `REPRISE_*`
 * variables on top. Results are cached per (cwd, relevant env) so the hit path
 * pays a map lookup.
 */
export class SettingsLoader {
  private readonly explorer = cosmiconfig(MODULE_NAME, {
    searchStrategy: "global",
    searchPlaces: [
      "package.json",
      `.${MODULE_NAME}rc`,
      `.${MODULE_NAME}rc.json`,
      `.${MODULE_NAME}rc.yaml`,
      `.${MODULE_NAME}rc.yml`,
      `.${MODULE_NAME}rc.js`,
      `.${MODULE_NAME}rc.mjs`,
      `.${MODULE_NAME}rc.cjs`,
      `${MODULE_NAME}.config.js`,
      `${MODULE_NAME}.config.mjs`,
      `${MODULE_NAME}.config.cjs`,
      `${MODULE_NAME}.config.ts`,
      `${MODULE_NAME}.config.json`,
    ],
  });
  private readonly cache = new Map<string, Promise<Settings>>();

  async load(cwd: string, env: Readonly<Record<string, string | undefined>>): Promise<Settings> {
    const envPart = ENV_NAMES.map((k) => env[k] ?? "")
      .join("\0");
    const cacheKey = `${cwd}\0${env.XDG_CONFIG_HOME ?? ""}\0${env.HOME ?? ""}\0${envPart}`;
    let pending = this.cache.get(cacheKey);
    if (!pending) {
      pending = this.resolve(cwd, env);
      this.cache.set(cacheKey, pending);
      pending.catch(() => this.cache.delete(cacheKey));
    }
    return pending;
  }

  /** Forget cached files (e.g. after `--zero-stats` or when a test rewrites config). */
  clearCache(): void {
    this.cache.clear();
    this.explorer.clearCaches();
  }

  private async resolve(cwd: string, env: Readonly<Record<string, string | undefined>>): Promise<Settings> {
    let found: CosmiconfigResult = null;
    try {
      found = await this.explorer.search(cwd);
      if (!found) {
        const userDir = userConfigDir(env as NodeJS.ProcessEnv);
        found = await this.explorer.search(userDir).catch(() => null);
        if (found && !found.filepath.startsWith(userDir)) found = null;
      }
    } catch (err) {
      throw new ConfigError("cannot read config", (err as Error).message);
    }
    const fromFile = found && !found.isEmpty ? found.config : {};
    if (fromFile === null || typeof fromFile !== "object" || Array.isArray(fromFile)) {
      throw new ConfigError(`invalid config in ${found?.filepath}`, "the config must be an object");
    }
    const file = parse(fromFile, found?.filepath ?? "config");
    const fromEnv = parse(configFromEnv(env), "environment (REPRISE_*)");
    const merged = { ...file, ...fromEnv, remote: { ...file.remote, ...fromEnv.remote } };
    const base = found ? dirname(found.filepath) : cwd;
    const dir = merged.dir ? (isAbsolute(merged.dir) ? merged.dir : resolve(fromEnv.dir ? cwd : base, merged.dir)) : defaultCacheDir(env as NodeJS.ProcessEnv);
    return {
      dir,
      cacheSizeBytes: merged.cacheSize ?? DEFAULTS.cacheSizeBytes,
      keyMode: merged.keyMode ?? DEFAULTS.keyMode,
      disable: merged.disable ?? DEFAULTS.disable,
      logLevel: merged.logLevel ?? DEFAULTS.logLevel,
      idleTimeoutSec: merged.idleTimeout ?? DEFAULTS.idleTimeoutSec,
      maxJobs: merged.maxJobs ?? availableParallelism(),
      plugins: merged.plugins ?? [...DEFAULTS.plugins],
      storage: merged.storage ?? { ...DEFAULTS.storage },
      levels: resolveLevels(merged.levels, merged.storage ?? DEFAULTS.storage, env),
      recache: merged.recache ?? false,
      remote: { ...DEFAULTS.remote, ...merged.remote },
      ...(merged.hermetic ? { hermetic: merged.hermetic } : {}),
      sandboxOptions: merged.sandboxOptions ?? {},
      configFile: found?.filepath,
    };
  }
}

/**
 * The cache levels of a call: `levels` from config, else the one `storage`
 * backend. Remote backends selected by environment variables replace the
 * config's remote levels and come after its local ones.
 */
function resolveLevels(
  configured: { kind: string; options?: Record<string, unknown>; readOnly?: boolean }[] | undefined,
  storage: { kind: string; options?: Record<string, unknown> },
  env: Readonly<Record<string, string | undefined>>,
): LevelSpec[] {
  let levels: LevelSpec[] = (configured ?? [storage]).map((l) => ({ kind: l.kind, ...(l.options ? { options: l.options } : {}), readOnly: "readOnly" in l ? l.readOnly === true : false }));
  const fromEnv = remoteLevelsFromEnv(env);
  if (fromEnv.length) levels = [...levels.filter((l) => l.kind === "local"), ...fromEnv];
  const localMode = parseRwMode(env, "REPRISE_LOCAL_RW_MODE");
  if (localMode !== undefined) levels = levels.map((l) => (l.kind === "local" ? { ...l, readOnly: localMode } : l));
  return levels;
}

function parse(input: unknown, source: string) {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = issue.path.length ? issue.path.join(".") : undefined;
  const what = issue.code === "unrecognized_keys" ? `unknown key "${issue.keys.join('", "')}"` : `"${key}": ${issue.message}`;
  throw new ConfigError(`invalid config in ${source}`, what);
}
