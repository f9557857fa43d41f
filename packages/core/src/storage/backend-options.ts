import type { StorageSettings, StorageTimeouts } from "./cache-storage.js";
import { ConfigError } from "../util/errors.js";

/** The connect and request bounds a remote backend uses when its settings carry none (the config's `remote` defaults). */
export const DEFAULT_STORAGE_TIMEOUTS: Readonly<StorageTimeouts> = Object.freeze({ connectMs: 2_000, requestMs: 10_000 });

/** One problem a schema found: where in the options, and what. */
export interface StorageOptionsIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * What `parseStorageOptions` needs of a schema: a zod schema's `safeParse`
 * fits, whatever zod version the plugin uses, so core imposes none.
 */
export interface StorageOptionsSchema<T> {
  safeParse(raw: unknown): { success: true; data: T } | { success: false; error: { issues: readonly StorageOptionsIssue[] } };
}

/**
 * A backend's `settings.options` checked against its schema. Bad options throw
 * `ConfigError("invalid <kind> storage options", "<key>: <problem>")`, naming
 * the first problem, so the level is shown as unavailable with that reason.
 */
export function parseStorageOptions<T>(kind: string, schema: StorageOptionsSchema<T>, raw: Record<string, unknown> | undefined): T {
  const r = schema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new ConfigError(`invalid ${kind} storage options`, `${issue.path.join(".") || "options"}: ${issue.message}`);
}

/** The bounds a backend passes to its client: the settings' own, else the defaults. */
export function storageTimeouts(settings: Pick<StorageSettings, "timeouts">): StorageTimeouts {
  return settings.timeouts ?? DEFAULT_STORAGE_TIMEOUTS;
}
