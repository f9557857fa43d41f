import { z } from "../util/zod.js";
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

/** One cache level: a backend, its options, and whether this machine may write to it. */
const levelSchema = z
  .object({
    kind: z.string().min(1),
    options: z.record(z.string(), z.unknown()).optional(),
    readOnly: z.boolean().optional(),
  })
  .strict();

const millis = z.number().int().positive();

/** Bounds and circuit breaker of remote levels. */
const remoteSchema = z
  .object({
    connectTimeoutMs: millis,
    requestTimeoutMs: millis,
    breakerErrorPercent: z.number().positive().max(100),
    breakerVolume: z.number().int().positive(),
    breakerCooldownMs: millis,
  })
  .strict()
  .partial();

const pluginSpecSchema = z.union([z.string().min(1), z.tuple([z.string().min(1), z.record(z.string(), z.unknown())])]);

/** The build farm client (`dist`): where the scheduler is and how misses go there. */
export const distSchema = z
  .object({
    /** The scheduler's URL (http:// or https://). Setting it turns the farm on. */
    schedulerUrl: z.string().url(),
    /** The client token the scheduler accepts. */
    token: z.string().min(1),
    /** A PEM file of the CA that signed the scheduler's and builders' certificates (https). */
    caFile: z.string().min(1),
    /** false: keep the settings but compile every miss here. */
    enabled: z.boolean(),
    /** "overflow" (default): a miss goes to the farm only while every local slot is busy; "always": every distributable miss goes. */
    mode: z.enum(["overflow", "always"]),
    /** "local" (default): a miss the farm cannot compile is compiled here; "fail": the call fails instead (CI proving the farm works). */
    fallback: z.enum(["local", "fail"]),
    /** Longest wait for one job on a builder, uploads included (default 120000). */
    jobTimeoutMs: z.number().int().positive(),
    /** Longest wait for the scheduler to allocate a builder (default 2000). */
    allocateTimeoutMs: z.number().int().positive(),
    /** A pool whose free builders are used first: "linux/aarch64", or an architecture alone ("aarch64", "x86_64"). */
    preferPlatform: z.string().regex(/^([a-z0-9_]+\/)?[A-Za-z0-9_]+$/, 'an architecture ("aarch64") or "os/arch" ("linux/aarch64")'),
    /** true (default): builders of other architectures holding an equivalent compiler may take jobs (docs/cross-arch.md). */
    crossArch: z.boolean(),
    /**
     * Prepared toolchain archives of other host platforms for a local compiler
     * (`reprise --package-toolchain` run there): `{ "/usr/bin/clang-14": ["clang-aarch64.tar.gz"] }`.
     */
    toolchains: z.record(z.string().startsWith("/", "a compiler's absolute path"), z.array(z.string().min(1)).max(16)),
  })
  .strict()
  .partial();

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
    /** Limits of each sandboxed job, as a whole (see docs/sandboxes.md#limits); unset keys keep their defaults. */
    jobLimits: z
      .object({
        /** Wall-clock seconds (default 600). */
        timeout: z.number().positive().max(24 * 3600),
        /** Most processes at once (default 256). */
        maxProcesses: z.number().int().min(8).max(1_000_000),
        /** Memory of the job (default 4G). */
        memory: sizeSchema,
        /** stdout + stderr + outputs (default 1G). */
        maxOutput: sizeSchema,
      })
      .strict()
      .partial(),
    /** Storage backend; "local" (built in) unless a plugin provides another. */
    storage: z.object({ kind: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }).strict(),
    /** Build farm client; see docs/dist-builder.md. */
    dist: distSchema,
    /** Cache levels asked in order (e.g. local, then redis, then s3); replaces `storage` when given. */
    levels: z.array(levelSchema).min(1),
    /** Ignore hits, compile and overwrite what is stored (sccache's SCCACHE_RECACHE). */
    recache: z.boolean(),
    /** Timeouts and circuit breaker of remote levels. */
    remote: remoteSchema,
    /** Absolute directories whose paths enter keys relative to them, so checkouts at other paths share entries (docs/sharing.md). */
    /** A direct-mode miss looks up the preprocessed text's key before compiling, where that gives the same bytes (docs/sharing.md). */
    preprocessorFallback: z.boolean(),
    /**
     * Also make, while the daemon is idle, a preprocessed-text copy of every silent cold miss (a `cc -E` each, at the
     * lowest priority), so a first header edit that leaves the text unchanged is served; on by default (docs/sharing.md).
     */
    preprocessorFallbackCopies: z.boolean(),
    /** Direct mode records and matches headers by their text digests too, where the plugin reads text (a comment edit still hits). */
    textDigests: z.boolean(),
    baseDirs: z.array(z.string().min(1).refine((p) => p.startsWith("/"), "each base directory must be an absolute path")),
  })
  .strict()
  .partial();

export type ConfigInput = z.input<typeof configSchema>;
export type ConfigFile = z.output<typeof configSchema>;
export type PluginSpec = z.output<typeof pluginSpecSchema>;
export type LevelSpec = { kind: string; options?: Record<string, unknown>; readOnly: boolean };

export interface RemoteSettings {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  breakerErrorPercent: number;
  breakerVolume: number;
  breakerCooldownMs: number;
}

/** The farm settings of a call, present only when a scheduler URL is set and the farm is not disabled. */
export interface DistSettings {
  schedulerUrl: string;
  token?: string;
  caFile?: string;
  mode: "overflow" | "always";
  fallback: "local" | "fail";
  jobTimeoutMs: number;
  allocateTimeoutMs: number;
  /** Pool preferred when one of its builders is free. */
  preferPlatform?: { os: string; arch: string };
  crossArch: boolean;
  /** Compiler path → absolute paths of archives declared for it (config `dist.toolchains`). */
  declaredToolchains?: Record<string, string[]>;
}

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
  /** Cache levels in the order they are asked; the first is usually the local disk. */
  levels: LevelSpec[];
  recache: boolean;
  remote: RemoteSettings;
  preprocessorFallback: boolean;
  preprocessorFallbackCopies: boolean;
  textDigests: boolean;
  /** Absolute, normalised, without a trailing slash; longest first. */
  baseDirs: string[];
  /** Sandbox that compiles misses, or undefined for ordinary local compiles. */
  hermetic?: string;
  sandboxOptions: Record<string, unknown>;
  /** Build farm client settings, or undefined when misses are not distributed. */
  dist?: DistSettings;
  /** Config `jobLimits` as given (the hermetic compiler applies them over its defaults). */
  jobLimits?: { timeoutMs?: number; maxProcesses?: number; memoryBytes?: number; maxOutputBytes?: number };
  /** File the settings came from, if any (for `--show-config` and error messages). */
  configFile?: string;
  /** The config file's stat identity when read (inode, size, mtime, ctime); changes with every edit. */
  configIdentity?: string;
  /** Config files that were found but not read, and why (another user could have written them). */
  warnings: string[];
  /** Where each key that is not at its default was set: a file path or "environment REPRISE_…" (for `--show-config`). */
  sources: Partial<Record<keyof ConfigFile, string>>;
}
