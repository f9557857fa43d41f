import { DIST_ENV_KEYS, ENV_KEYS } from "../config/env-overrides.js";
import { CONFIG_SEARCH_PLACES } from "../config/load-settings.js";
import { CACHE_DIR_SETTINGS_FILE } from "../config/cache-dir-settings.js";
import { daemonLogPath, runtimeDir, userConfigDir } from "../util/paths.js";

const ENV_MEANING: Record<keyof typeof ENV_KEYS, string> = {
  REPRISE_DIR: "cache directory",
  REPRISE_CACHE_SIZE: "cache size limit (500M, 10G)",
  REPRISE_KEY_MODE: "direct or preprocessor",
  REPRISE_DISABLE: "1: run every call without caching",
  REPRISE_LOG: "log level: silent error warn info debug trace",
  REPRISE_IDLE_TIMEOUT: "seconds before an idle daemon exits",
  REPRISE_MAX_JOBS: "compiles the daemon runs at once",
  REPRISE_PLUGINS: "plugins, comma-separated",
  REPRISE_STORAGE: "storage backend",
  REPRISE_HERMETIC: "compile misses in a sandbox: bwrap, docker",
  REPRISE_RECACHE: "1: ignore hits and overwrite entries",
  REPRISE_BASEDIRS: "directories keyed relative to them, colon-separated",
  REPRISE_PREPROCESSOR_FALLBACK: "0: no preprocessed-text lookup on a direct-mode miss",
  REPRISE_TEXT_DIGESTS: "0: compare headers by their exact content only (a comment edit compiles again)",
  REPRISE_PREPROCESSOR_FALLBACK_COPIES: "0: no copy of cold misses under their preprocessed text while idle (a cc -E each)",
  REPRISE_REMOTE_CONNECT_TIMEOUT_MS: "connect timeout of remote cache levels (ms)",
  REPRISE_REMOTE_TIMEOUT_MS: "request timeout of remote cache levels (ms)",
  REPRISE_REMOTE_BREAKER_COOLDOWN_MS: "how long a failing remote level is not asked (ms)",
};

const DIST_ENV_MEANING: Record<keyof typeof DIST_ENV_KEYS, string> = {
  REPRISE_DIST_SCHEDULER_URL: "build farm scheduler (https://host:7420)",
  REPRISE_DIST_TOKEN: "build farm client token",
  REPRISE_DIST_CA_FILE: "CA certificate of the scheduler and builders",
  REPRISE_DIST: "0: do not use the build farm",
  REPRISE_DIST_MODE: "overflow (farm when local slots are busy) or always",
  REPRISE_DIST_FALLBACK: "local or fail, when the farm cannot compile",
  REPRISE_DIST_JOB_TIMEOUT_MS: "limit of one farm job (ms)",
  REPRISE_DIST_ALLOCATE_TIMEOUT_MS: "wait for a builder before compiling locally (ms)",
  REPRISE_DIST_PREFER_PLATFORM: "pool used first when free (linux/aarch64)",
  REPRISE_DIST_CROSS_ARCH: "0: only builders that can run this compiler",
};

/** The part of `reprise --help` after the options: commands, config files, environment, log. */
export function helpFooter(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = runtimeDir(env);
  const lines = [
    "",
    "Commands:",
    "  install-native [--from-source]          install the prebuilt native client of this platform, else build it with the C compiler (faster cache hits)",
    "  link-compilers <dir> [compiler...]      make compiler links (gcc, g++, cc, c++, clang, clang++) to the native client in <dir>",
    "  --package-toolchain <compiler> <out> [--target <triple>]...  write the compiler's toolchain archive (.tar.gz), with its equivalence for each target (docs/cross-arch.md)",
    "  toolchain inspect <archive> [--json]    describe a toolchain archive",
    "  --explain [--json] <compile command>    say whether the call would hit and, for a miss, what differs from the cached entry (compiles nothing)",
    "",
    "Config files (the first found from the working directory upwards, else in the user's directory):",
    `  ${CONFIG_SEARCH_PLACES.join(" ")} (key "reprise" of package.json)`,
    `  ${userConfigDir(env)}/ (the same names)`,
    `  <cache dir>/${CACHE_DIR_SETTINGS_FILE} (written by --max-size)`,
    "  `reprise --show-config` shows each value and where it came from.",
    "",
    "Environment (overrides config files):",
    ...Object.entries(ENV_MEANING).map(([name, meaning]) => `  ${name.padEnd(36)}${meaning}`),
    ...Object.entries(DIST_ENV_MEANING).map(([name, meaning]) => `  ${name.padEnd(36)}${meaning}`),
    `  ${"REPRISE_RUNTIME_DIR".padEnd(36)}daemon socket, lock, log and stats (now ${runtime})`,
    `  ${"REPRISE_NO_CLIENT_HITS".padEnd(36)}1: the native client leaves every hit to the daemon (no hit index)`,
    `  ${"REPRISE_SPAWN_HELPER".padEnd(36)}0: the daemon spawns compilers itself, not through its launcher (read when it starts)`,
    "  Remote cache levels, as sccache's: REPRISE_REDIS_ENDPOINT, REPRISE_MEMCACHED_ENDPOINT,",
    "  REPRISE_WEBDAV_ENDPOINT, REPRISE_BUCKET (+ REPRISE_ENDPOINT, REPRISE_REGION, REPRISE_S3_*),",
    "  REPRISE_<LEVEL>_RW_MODE=READ_ONLY (see docs/storage.md)",
    "",
    `Log: ${daemonLogPath(runtime)} (errors only unless REPRISE_LOG or logLevel says more)`,
    "Debugging: REPRISE_LOG=debug in a call's environment logs that call's decisions to the daemon log, without a restart.",
  ];
  return `${lines.join("\n")}\n`;
}
