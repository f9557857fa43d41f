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

/**
 * Thrown by a storage backend's `write` for a blob it cannot hold (e.g. over
 * memcached's item size limit): the store is skipped and counted, and it does
 * not count as a failure of the backend.
 */
export class BlobTooLargeError extends RepriseError {
  constructor(
    readonly size: number,
    readonly limit: number,
    backend: string,
  ) {
    super(`blob of ${size} bytes not stored in ${backend}`, "E_TOO_LARGE", `its limit is ${limit} bytes`);
    this.name = "BlobTooLargeError";
  }
}

/** A storage backend that cannot be reached or answered wrongly; the level is skipped and the build goes on. */
export class StorageBackendError extends RepriseError {
  constructor(backend: string, message: string, reason?: string) {
    super(`${backend}: ${message}`, "E_STORAGE_BACKEND", reason);
    this.name = "StorageBackendError";
  }
}
