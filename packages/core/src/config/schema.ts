import { z } from "zod";
import bytes from "bytes";
import { LOG_LEVELS } from "../util/logger.js";

const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i;

/** Sizes as ccache/sccache users write them: "10G", "500M", "1.5GiB", or plain bytes (powers of 1024). */
const sizeSchema = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return v;
  const m = SIZE_PATTERN.exec(v.trim());
  const parsed = m ? bytes.parse(`${m[1]}${m[2] ? `${m[2]}b` : "b"}`) : null;
  if (parsed === null || !Number.isFinite(parsed) || parsed <= 0) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not a size (examples: 500M, 10G, 1073741824)` });
    return z.NEVER;
  }
  return Math.floor(parsed);
});

const pluginSpecSchema = z.union([z.string().min(1), z.tuple([z.string().min(1), z.record(z.string(), z.unknown())])]);

/** Everything a config file may say. Unknown keys are an error, so typos are caught. */
export const configSchema = z
  .object({
    /** Cache directory. */
    dir: z.string().min(1),
    /** Size limit of the cache: bytes, or a string such as "10G". */
    cacheSize: sizeSchema,
    /** "direct": key by source + recorded includes (default); "preprocessor": key by preprocessed output. */
    keyMode: z.enum(["direct", "preprocessor"]),
    /** Run every compiler call as if Reprise were not there. */
    disable: z.boolean(),
    logLevel: z.enum(LOG_LEVELS),
    /** Seconds of inactivity after which the daemon exits; 0 = never. */
    idleTimeout: z.number().int().nonnegative(),
    /** Most compiles the daemon runs at once. */
    maxJobs: z.number().int().positive(),
    /** Plugins: package names or paths, optionally with options. Empty = installed first-party compiler plugins. */
    plugins: z.array(pluginSpecSchema),
    /** Compile every miss inside this sandbox from a packaged toolchain ("bwrap", "docker"); false = off. */
    hermetic: z.union([z.literal(false), z.string().min(1)]),
    /** Options for the sandbox plugin (e.g. { engine: "podman" }). */
    sandboxOptions: z.record(z.string(), z.unknown()),
    /** Storage backend; "local" (built in) unless a plugin provides another. */
    storage: z.object({ kind: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }).strict(),
  })
  .strict()
  .partial();

export type ConfigInput = z.input<typeof configSchema>;
export type ConfigFile = z.output<typeof configSchema>;
export type PluginSpec = z.output<typeof pluginSpecSchema>;

export interface Settings {
  dir: string;
  cacheSizeBytes: number;
  keyMode: "direct" | "preprocessor";
  disable: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
  idleTimeoutSec: number;
  maxJobs: number;
  plugins: PluginSpec[];
  storage: { kind: string; options?: Record<string, unknown> };
  /** Sandbox that compiles misses, or undefined for ordinary local compiles. */
  hermetic?: string;
  sandboxOptions: Record<string, unknown>;
  /** File the settings came from, if any (for `--show-config` and error messages). */
  configFile?: string;
  /** Where each key that is not at its default was set: a file path or "environment REPRISE_…" (for `--show-config`). */
  sources: Partial<Record<keyof ConfigFile, string>>;
}
