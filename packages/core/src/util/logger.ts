import { format } from "node:util";
import { appendPrivate } from "./private-file.js";

/**
 * The project's one logger. Deliberately dependency-free: the client loads it
 * on every compiler call, where each imported module costs start-up time.
 * Quiet by default (errors only); REPRISE_LOG=warn|info|debug|trace raises it.
 */
export const LOG_LEVELS = ["silent", "error", "warn", "info", "debug", "trace"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogSink {
  write(line: string): void;
}

export const stderrSink: LogSink = { write: (line) => void process.stderr.write(line) };

/** Appends to `path` (0600), never through a symlink planted in its place. */
export function fileSink(path: string): LogSink {
  return {
    write(line) {
      try {
        appendPrivate(path, line);
      } catch {
        // A log that cannot be written must never break a build.
      }
    },
  };
}

export function parseLogLevel(value: string | undefined, fallback: LogLevel = "error"): LogLevel {
  if (!value) return fallback;
  const v = value.toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : fallback;
}

export class Logger {
  private readonly threshold: number;

  constructor(
    readonly level: LogLevel = "error",
    private readonly sink: LogSink = stderrSink,
    private readonly component = "reprise",
  ) {
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  child(component: string): Logger {
    return new Logger(this.level, this.sink, component);
  }

  /** The same sink and component at another level (a call that asked for more detail). */
  atLevel(level: LogLevel): Logger {
    return new Logger(level, this.sink, this.component);
  }

  enabled(level: Exclude<LogLevel, "silent">): boolean {
    return LOG_LEVELS.indexOf(level) <= this.threshold;
  }

  error(msg: string, ...args: unknown[]): void {
    this.log("error", msg, args);
  }
  warn(msg: string, ...args: unknown[]): void {
    this.log("warn", msg, args);
  }
  info(msg: string, ...args: unknown[]): void {
    this.log("info", msg, args);
  }
  debug(msg: string, ...args: unknown[]): void {
    this.log("debug", msg, args);
  }
  trace(msg: string, ...args: unknown[]): void {
    this.log("trace", msg, args);
  }

  private log(level: Exclude<LogLevel, "silent">, msg: string, args: unknown[]): void {
    if (!this.enabled(level)) return;
    const text = args.length ? format(msg, ...args) : msg;
    this.sink.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${this.component}] ${text}\n`);
  }
}

export const silentLogger = new Logger("silent");
