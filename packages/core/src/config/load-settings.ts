import { cosmiconfig, type CosmiconfigResult } from "cosmiconfig";
import { availableParallelism } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { configSchema, type ConfigFile, type DistSettings, type Settings } from "./schema.js";
import { ALL_ENV_KEYS, configFromEnv } from "./env-overrides.js";
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
} as const;

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
    const envPart = ALL_ENV_KEYS
      .map((k) => env[k] ?? "")
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
    const merged = { ...file, ...fromEnv, ...(file.dist || fromEnv.dist ? { dist: { ...file.dist, ...fromEnv.dist } } : {}) };
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
      ...(merged.hermetic ? { hermetic: merged.hermetic } : {}),
      sandboxOptions: merged.sandboxOptions ?? {},
      ...distSettings(merged.dist, base, cwd, fromEnv.dist?.caFile !== undefined),
      ...(merged.jobLimits ? { jobLimits: jobLimitsOf(merged.jobLimits) } : {}),
      configFile: found?.filepath,
    };
  }
}

function distSettings(dist: ConfigFile["dist"], base: string, cwd: string, caFromEnv: boolean): { dist?: DistSettings } {
  if (!dist?.schedulerUrl || dist.enabled === false) return {};
  const caFile = dist.caFile ? resolve(caFromEnv ? cwd : base, dist.caFile) : undefined;
  return {
    dist: {
      schedulerUrl: dist.schedulerUrl,
      ...(dist.token ? { token: dist.token } : {}),
      ...(caFile ? { caFile } : {}),
      mode: dist.mode ?? "overflow",
      fallback: dist.fallback ?? "local",
      jobTimeoutMs: dist.jobTimeoutMs ?? 120_000,
      allocateTimeoutMs: dist.allocateTimeoutMs ?? 2000,
    },
  };
}

function jobLimitsOf(l: NonNullable<ConfigFile["jobLimits"]>): NonNullable<Settings["jobLimits"]> {
  return {
    ...(l.timeout !== undefined ? { timeoutMs: Math.round(l.timeout * 1000) } : {}),
    ...(l.maxProcesses !== undefined ? { maxProcesses: l.maxProcesses } : {}),
    ...(l.memory !== undefined ? { memoryBytes: l.memory } : {}),
    ...(l.maxOutput !== undefined ? { maxOutputBytes: l.maxOutput } : {}),
  };
}

function parse(input: unknown, source: string) {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = issue.path.length ? issue.path.join(".") : undefined;
  const what = issue.code === "unrecognized_keys" ? `unknown key "${issue.keys.join('", "')}"` : `"${key}": ${issue.message}`;
  throw new ConfigError(`invalid config in ${source}`, what);
}
