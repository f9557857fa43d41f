import { SettingsLoader } from "../config/load-settings.js";
import type { ConfigFile, Settings } from "../config/schema.js";
import { daemonLogPath, runtimeDir } from "../util/paths.js";

type Key = keyof ConfigFile;

/** Every config key with its effective value, as a user would write it. */
function effectiveValues(s: Settings): Record<Key, unknown> {
  return {
    dir: s.dir,
    cacheSize: s.cacheSizeBytes,
    keyMode: s.keyMode,
    disable: s.disable,
    logLevel: s.logLevel,
    idleTimeout: s.idleTimeoutSec,
    maxJobs: s.maxJobs,
    plugins: s.plugins,
    storage: s.storage,
    hermetic: s.hermetic ?? false,
    sandboxOptions: s.sandboxOptions,
    jobLimits: s.jobLimits ?? {},
    levels: s.levels,
    recache: s.recache,
    preprocessorFallback: s.preprocessorFallback,
    preprocessorFallbackCopies: s.preprocessorFallbackCopies,
    textDigests: s.textDigests,
    baseDirs: s.baseDirs,
    remote: s.remote,
    // The token is a secret: shown only as set or not.
    dist: s.dist ? { ...s.dist, ...(s.dist.token ? { token: "(set)" } : {}) } : false,
  };
}

function display(key: Key, value: unknown): string {
  if (key === "cacheSize" && typeof value === "number") return `${value} (${(value / 1024 ** 3).toFixed(2)} GiB)`;
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** `reprise --show-config [--json]`: the settings a compiler call made here would get, and where each came from. */
export async function showConfigCommand(json: boolean, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let settings: Settings;
  try {
    settings = await new SettingsLoader().load(cwd, env as Record<string, string>);
  } catch (err) {
    process.stderr.write(`reprise: ${(err as Error).message}\n`);
    return 1;
  }
  const values = effectiveValues(settings);
  const runtime = runtimeDir(env);
  if (json) {
    const out = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: v, source: settings.sources[k as Key] ?? "default" }]));
    process.stdout.write(`${JSON.stringify({ configFile: settings.configFile ?? null, runtimeDir: runtime, log: daemonLogPath(runtime), settings: out }, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `# config file: ${settings.configFile ?? "none (defaults)"}`,
    `# runtime dir: ${runtime} (log: ${daemonLogPath(runtime)})`,
    ...Object.entries(values).map(([k, v]) => `(${settings.sources[k as Key] ?? "default"}) ${k} = ${display(k as Key, v)}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
