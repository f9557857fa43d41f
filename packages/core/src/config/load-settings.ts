import { availableParallelism } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { configSchema, type ConfigFile, type DistSettings, type LevelSpec, type RemoteSettings, type Settings } from "./schema.js";
import { ALL_ENV_KEYS, configFromEnv, DIST_ENV_KEYS, ENV_KEYS } from "./env-overrides.js";
import { parseRwMode, REMOTE_ENV_NAMES, remoteLevelsFromEnv } from "./remote-env.js";
import { ConfigError } from "../util/errors.js";
import { defaultCacheDir, userConfigDir } from "../util/paths.js";
import { LRUCache } from "lru-cache";
import { ConfigLocator, type LocatedFile } from "./config-locator.js";
import { readConfigFile } from "./read-config-file.js";
import { readCacheDirSettings } from "./cache-dir-settings.js";
import { DEFAULT_STORAGE_TIMEOUTS } from "../storage/backend-options.js";

/** Where config is looked for in each directory, in order (for `--help`). */
export { SEARCH_PLACES as CONFIG_SEARCH_PLACES } from "./config-locator.js";

const DEFAULTS = {
  cacheSizeBytes: 10 * 1024 ** 3,
  keyMode: "direct",
  disable: false,
  logLevel: "error",
  idleTimeoutSec: 600,
  plugins: [],
  storage: { kind: "local" },
  remote: {
    connectTimeoutMs: DEFAULT_STORAGE_TIMEOUTS.connectMs,
    requestTimeoutMs: DEFAULT_STORAGE_TIMEOUTS.requestMs,
    breakerErrorPercent: 50,
    breakerVolume: 3,
    breakerCooldownMs: 30_000,
  } satisfies RemoteSettings,
} as const;

/** Every variable that changes settings (part of the settings cache key): `REPRISE_*`, `REPRISE_DIST_*`, remote levels. */
const ENV_NAMES = [...ALL_ENV_KEYS, ...REMOTE_ENV_NAMES];

/**
 * Finds and validates settings for a call made in `cwd`: the nearest trusted
 * config file from `cwd` upwards (see ConfigLocator), else the user's config
 * dir, then `REPRISE_*` variables on top. Every call re-stats the directories
 * and the file (a handful of stats), so an edited or new config applies to the
 * next call; parsed files are kept by their stat identity, settings by
 * (cwd, file identity, relevant env).
 */
export class SettingsLoader {
  private readonly locator = new ConfigLocator();
  private readonly files = new LRUCache<string, Promise<ConfigFile>>({ max: 256 });
  private readonly cache = new LRUCache<string, Promise<Settings>>({ max: 2048 });

  async load(cwd: string, env: Readonly<Record<string, string | undefined>>): Promise<Settings> {
    const { file, warnings } = this.locate(cwd, env);
    const envPart = ENV_NAMES.map((k) => env[k] ?? "")
      .join("\0");
    const fileKey = file ? `${file.path}\0${file.identity}` : "";
    const cacheKey = `${cwd}\0${fileKey}\0${env.XDG_CACHE_HOME ?? ""}\0${env.HOME ?? ""}\0${envPart}\0${warnings.join("\n")}`;
    let pending = this.cache.get(cacheKey);
    if (!pending) {
      pending = this.resolve(cwd, env, file, warnings);
      this.cache.set(cacheKey, pending);
      pending.catch(() => this.cache.delete(cacheKey));
    }
    return pending;
  }

  /** Forget parsed files and settings (the next call reads its config again). */
  clearCache(): void {
    this.cache.clear();
    this.files.clear();
  }

  private locate(cwd: string, env: Readonly<Record<string, string | undefined>>): { file?: LocatedFile; warnings: string[] } {
    const project = this.locator.locate(cwd);
    if (project.file) return project;
    const user = this.locator.locateIn(userConfigDir(env as NodeJS.ProcessEnv));
    return { ...(user.file ? { file: user.file } : {}), warnings: [...project.warnings, ...user.warnings] };
  }

  /** A file's parsed contents, read once per version of the file (a broken one stays an error until edited). */
  private parsedFile(file: LocatedFile): Promise<ConfigFile> {
    const key = `${file.path}\0${file.identity}`;
    let pending = this.files.get(key);
    if (!pending) {
      pending = readFile(file.path);
      this.files.set(key, pending);
    }
    return pending;
  }

  private async resolve(cwd: string, env: Readonly<Record<string, string | undefined>>, located: LocatedFile | undefined, warnings: string[]): Promise<Settings> {
    const found = located && { filepath: located.path, identity: located.identity };
    const file: ConfigFile = located ? await this.parsedFile(located) : {};
    const fromEnv = parseEnv(configFromEnv(env));
    const base = found ? dirname(found.filepath) : cwd;
    const configured = { ...file, ...fromEnv };
    const dir = configured.dir ? (isAbsolute(configured.dir) ? configured.dir : resolve(fromEnv.dir ? cwd : base, configured.dir)) : defaultCacheDir(env as NodeJS.ProcessEnv);
    // `reprise --max-size` writes the cache's own limit next to it; the environment still wins.
    const inCacheDir = readCacheDirSettings(dir);
    const cacheDirSize = inCacheDir ? parse(inCacheDir.settings, inCacheDir.path).cacheSize : undefined;
    const fromCacheDir = cacheDirSize === undefined ? {} : { cacheSize: cacheDirSize };
    const merged = {
      ...file,
      ...fromCacheDir,
      ...fromEnv,
      remote: { ...file.remote, ...fromEnv.remote },
      ...(file.dist || fromEnv.dist ? { dist: { ...file.dist, ...fromEnv.dist } } : {}),
    };
    const sources: Record<string, string> = {};
    for (const key of new Set([...Object.keys(file), ...Object.keys(fromCacheDir), ...Object.keys(fromEnv)])) {
      const envName = key === "dist" ? "REPRISE_DIST_*" : (Object.entries(ENV_KEYS).find(([, k]) => k === key)?.[0] ?? "REPRISE_*");
      const source = key in fromEnv ? `environment ${envName}` : key in fromCacheDir ? inCacheDir?.path : found?.filepath;
      if (source) sources[key] = source;
    }
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
      baseDirs: normaliseBaseDirs(merged.baseDirs ?? []),
      preprocessorFallback: merged.preprocessorFallback ?? true,
      preprocessorFallbackCopies: merged.preprocessorFallbackCopies ?? true,
      textDigests: merged.textDigests ?? true,
      remote: { ...DEFAULTS.remote, ...merged.remote },
      ...(merged.hermetic ? { hermetic: merged.hermetic } : {}),
      sandboxOptions: merged.sandboxOptions ?? {},
      ...distSettings(merged.dist, base, cwd, fromEnv.dist?.caFile !== undefined),
      ...(merged.jobLimits ? { jobLimits: jobLimitsOf(merged.jobLimits) } : {}),
      configFile: found?.filepath,
      configIdentity: found?.identity,
      warnings,
      sources,
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
      ...(dist.preferPlatform ? { preferPlatform: platformOf(dist.preferPlatform) } : {}),
      crossArch: dist.crossArch ?? true,
      ...(dist.toolchains ? { declaredToolchains: Object.fromEntries(Object.entries(dist.toolchains).map(([c, archives]) => [c, archives.map((a) => resolve(base, a))])) } : {}),
    },
  };
}

/** "linux/aarch64" or "aarch64" (Linux) as a platform. */
function platformOf(spec: string): { os: string; arch: string } {
  const [os, arch] = spec.includes("/") ? (spec.split("/") as [string, string]) : ["linux", spec];
  return { os, arch };
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

async function readFile(path: string): Promise<ConfigFile> {
  let contents: unknown;
  try {
    contents = await readConfigFile(path);
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}`, (err as Error).message);
  }
  if (contents === undefined) return {};
  if (contents === null || typeof contents !== "object" || Array.isArray(contents)) {
    throw new ConfigError(`invalid config in ${path}`, "the config must be an object");
  }
  return parse(contents, path);
}

/** Validates `REPRISE_*` values; an error names the variable, as the user wrote it. */
function parseEnv(input: Record<string, unknown>): ConfigFile {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = issue.path.join(".");
  const variable =
    (issue.path[0] === "dist" ? Object.entries(DIST_ENV_KEYS).find(([, k]) => k === String(issue.path[1]))?.[0] : undefined) ??
    Object.entries(ENV_KEYS).find(([, k]) => k === key || k === String(issue.path[0]))?.[0] ??
    "REPRISE_*";
  throw new ConfigError(`invalid config in ${variable}`, `"${key}": ${issue.message}`);
}

/** Normalised, "/" dropped (it would make every path relative), longest first so the innermost base wins. */
function normaliseBaseDirs(dirs: readonly string[]): string[] {
  const out = [...new Set(dirs.map((d) => resolve(d)).filter((d) => d !== "/"))];
  return out.sort((a, b) => b.length - a.length);
}
