import { LOG_LEVELS, parseLogLevel, type Logger } from "../util/logger.js";

/**
 * The logger of one call: the daemon's own, or a more detailed one when the
 * call's environment asks for it (`REPRISE_LOG=debug` or `trace`), so one
 * call or one build can be looked into without restarting a daemon started
 * at a quieter level. When the variable is not set, this is one lookup.
 */
export function callLogger(env: Readonly<Record<string, string>>, daemon: Logger): Logger {
  const asked = env.REPRISE_LOG;
  if (asked === undefined) return daemon;
  const level = parseLogLevel(asked, daemon.level);
  return LOG_LEVELS.indexOf(level) > LOG_LEVELS.indexOf(daemon.level) ? daemon.atLevel(level) : daemon;
}
