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
  constructor(message: string, code = "E_CORRUPT") {
    super("corrupt cache entry", code, message);
    this.name = "CorruptEntryError";
  }
}

/** A well-formed entry or manifest stored under a key other than its own (copied, linked or moved there). */
export class EntryKeyMismatchError extends CorruptEntryError {
  constructor(message: string) {
    super(message, "E_KEY_MISMATCH");
    this.name = "EntryKeyMismatchError";
  }
}

/** An entry written by another format version of Reprise: a miss, not a fault. */
export class OutdatedEntryError extends CorruptEntryError {
  constructor(message: string) {
    super(message, "E_ENTRY_VERSION");
    this.name = "OutdatedEntryError";
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
