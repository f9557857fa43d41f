import type { CompileInvocation, CompileRequest, CompilerInfo } from "../engine/types.js";
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

/** The call and the parts of its key, at debug level (built only when that level is on). */
export function logCallStart(log: Logger, request: CompileRequest, compiler: CompilerInfo, inv: CompileInvocation): void {
  if (!log.enabled("debug")) return;
  const env = Object.fromEntries(inv.keyEnv.map((name) => [name, request.env[name] ?? null]).filter(([, v]) => v !== null));
  log.debug("%s: %s (cwd %s)", inv.sourceFile, request.argv.join(" "), request.cwd);
  log.debug(
    "%s: key parts: compiler %s %s (identity %s), language %s, args %s, env %s, color %s",
    inv.sourceFile,
    compiler.family,
    compiler.path,
    compiler.identity.slice(0, 16),
    inv.language,
    JSON.stringify(inv.keyArgs),
    JSON.stringify(env),
    inv.colorDiagnostics,
  );
}
