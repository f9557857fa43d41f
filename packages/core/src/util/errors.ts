/** Base of every error Reprise raises on purpose: `reason` says what the user can do about it. */
export class RepriseError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly reason?: string,
  ) {
    super(reason ? `${message}: ${reason}` : message);
    this.name = "RepriseError";
  }
}

export class ConfigError extends RepriseError {
  constructor(message: string, reason?: string) {
    super(message, "E_CONFIG", reason);
    this.name = "ConfigError";
  }
}

export class PluginError extends RepriseError {
  constructor(readonly plugin: string, message: string, reason?: string) {
    super(`plugin ${plugin}: ${message}`, "E_PLUGIN", reason);
    this.name = "PluginError";
  }
}

export class CorruptEntryError extends RepriseError {
  constructor(message: string) {
    super("corrupt cache entry", "E_CORRUPT", message);
    this.name = "CorruptEntryError";
  }
}

export class ProtocolError extends RepriseError {
  constructor(message: string) {
    super("daemon protocol", "E_PROTOCOL", message);
    this.name = "ProtocolError";
  }
}

export class CompilerNotFoundError extends RepriseError {
  constructor(name: string, reason: string) {
    super(`compiler "${name}" not found`, "E_NO_COMPILER", reason);
    this.name = "CompilerNotFoundError";
  }
}
