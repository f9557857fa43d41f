/** The builder's config file (`reprise-dist builder --config F`), validated with zod. */
import { readFileSync } from "node:fs";
import { availableParallelism, homedir, hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";

const TRIPLE = z.string().regex(/^[A-Za-z0-9._-]+$/);

const SIZE = z.union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?\s*[kmgt]?i?b?$/i)]).transform((v) => (typeof v === "number" ? v : parseSize(v)));

export const BuilderConfigSchema = z
  .object({
    /** The scheduler's URL. */
    schedulerUrl: z.string().url(),
    /** The builder token the scheduler accepts (or set REPRISE_DIST_BUILDER_TOKEN). */
    token: z.string().min(1).optional(),
    /** Stable name of this builder (default: host name and port). */
    builderId: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/).optional(),
    /** Address and port to listen on (port 0: any free port). */
    listen: z.object({ host: z.string().default("0.0.0.0"), port: z.number().int().min(0).max(65535).default(10601) }).strict().default({ host: "0.0.0.0", port: 10601 }),
    /** URL clients reach this builder at (default: from listen; required when listening on 0.0.0.0 behind another name). */
    publicUrl: z.string().url().optional(),
    /** TLS: certificate and key this builder serves, and the CA that signed the scheduler's certificate. */
    tls: z.object({ certFile: z.string(), keyFile: z.string(), caFile: z.string().optional() }).strict().optional(),
    /** Sandboxes tried in order (there is no unsandboxed mode). */
    sandbox: z.string().min(1).default("bwrap,docker"),
    sandboxOptions: z.record(z.string(), z.unknown()).default({}),
    /** Where toolchains and blobs are kept. */
    dataDir: z.string().min(1).optional(),
    /** Jobs the scheduler may give this builder at once: those running plus those whose inputs arrive meanwhile (default: cores). */
    maxJobs: z.number().int().positive().optional(),
    /** Jobs whose compiles run at once (default: cores, at most maxJobs); the others wait, their inputs already here. */
    maxRunningJobs: z.number().int().positive().optional(),
    /** Stop accepting jobs while the load others put on this machine is above this many cores (default: cores; #620). */
    yieldAboveLoad: z.number().positive().optional(),
    toolchainCacheSize: SIZE.default(8 * 1024 ** 3),
    blobStoreSize: SIZE.default(2 * 1024 ** 3),
    maxToolchainUpload: SIZE.default(1024 ** 3),
    maxBlobUpload: SIZE.default(256 * 1024 ** 2),
    /** Largest run request carrying blobs (docs/dist-protocol.md): the job and the inputs it lacks, held in memory while checked. */
    maxInlineBody: SIZE.default(64 * 1024 ** 2),
    /** Limits of each job, whatever a client asks. */
    limits: z
      .object({
        timeoutMs: z.number().int().positive().default(10 * 60_000),
        maxOutputBytes: SIZE.default(1024 ** 3),
        memoryBytes: SIZE.default(4 * 1024 ** 3),
        maxProcesses: z.number().int().positive().default(256),
      })
      .strict()
      .default({ timeoutMs: 10 * 60_000, maxOutputBytes: 1024 ** 3, memoryBytes: 4 * 1024 ** 3, maxProcesses: 256 }),
    /**
     * Compilers of this machine that take jobs of equivalent compilers of
     * other machines (docs/cross-arch.md), with the target triples of the
     * clients whose jobs each takes.
     */
    toolchains: z
      .array(z.object({ compiler: z.string().startsWith("/", "must be an absolute path"), targets: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,128}$/)).max(64).default([]) }).strict())
      .max(64)
      .default([]),
    logLevel: z.enum(["silent", "error", "warn", "info", "debug", "trace"]).default("info"),
    /** Rust toolchains provided by descriptor (docs/dist-builder.md#rust-toolchains): rustup, declared toolchains, linkers. */
    rust: z
      .object({
        rustup: z
          .object({
            rustup: z.string().optional(),
            rustupHome: z.string().optional(),
            cargoHome: z.string().optional(),
            distServer: z.string().url().optional(),
            updateRoot: z.string().url().optional(),
            timeoutMs: z.number().int().positive().optional(),
            /** How many toolchains rustup keeps installed; the least recently used one not in use is uninstalled past it. */
            maxToolchains: z.number().int().min(1).max(1000).optional(),
          })
          .strict()
          .optional(),
        toolchains: z.array(z.object({ rustc: z.string().min(1), libraryPath: z.array(z.string().min(1)).optional() }).strict()).optional(),
        // A triple (linked with cc), or the linker clients name in `-C linker` for it.
        linkTargets: z
          .array(z.union([TRIPLE, z.object({ target: TRIPLE, linker: z.string().min(1).optional() }).strict()]))
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type BuilderConfigInput = z.input<typeof BuilderConfigSchema>;

export interface BuilderConfig extends Omit<z.output<typeof BuilderConfigSchema>, "token" | "dataDir" | "maxJobs" | "maxRunningJobs" | "yieldAboveLoad" | "builderId"> {
  token: string;
  builderId: string;
  dataDir: string;
  maxJobs: number;
  maxRunningJobs: number;
  yieldAboveLoad: number;
}

/** A config problem, told in one line. */
export class BuilderConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BuilderConfigError";
  }
}

/** Validates a config (file contents or object) and fills in defaults; `baseDir` resolves relative paths. */
export function resolveBuilderConfig(input: unknown, baseDir: string, env: NodeJS.ProcessEnv = process.env): BuilderConfig {
  const merged = { ...(input as object) } as Record<string, unknown>;
  if (env.REPRISE_DIST_SCHEDULER_URL) merged.schedulerUrl ??= env.REPRISE_DIST_SCHEDULER_URL;
  const parsed = BuilderConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BuilderConfigError(`invalid builder config: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const c = parsed.data;
  const token = c.token ?? env.REPRISE_DIST_BUILDER_TOKEN;
  if (!token) throw new BuilderConfigError("no builder token: set \"token\" in the config or REPRISE_DIST_BUILDER_TOKEN");
  const cores = availableParallelism();
  const abs = (p: string) => resolve(baseDir, p);
  return {
    ...c,
    token,
    builderId: c.builderId ?? `${hostname()}-${c.listen.port}`.replace(/[^A-Za-z0-9._-]/g, "-"),
    dataDir: abs(c.dataDir ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "reprise-builder")),
    maxJobs: c.maxJobs ?? cores,
    // Two compiles sharing one core cost 11-25 % more CPU than the same compiles one after the other (caches:
    // bench/results/2026-12-08-run-slots.md), so slots beyond the cores only let the next jobs' inputs arrive early.
    maxRunningJobs: Math.min(c.maxRunningJobs ?? cores, c.maxJobs ?? cores),
    yieldAboveLoad: c.yieldAboveLoad ?? cores,
    ...(c.rust
      ? {
          rust: {
            ...c.rust,
            ...(c.rust.rustup
              ? { rustup: { ...c.rust.rustup, ...(c.rust.rustup.rustupHome ? { rustupHome: abs(c.rust.rustup.rustupHome) } : {}), ...(c.rust.rustup.cargoHome ? { cargoHome: abs(c.rust.rustup.cargoHome) } : {}) } }
              : {}),
          },
        }
      : {}),
    ...(c.tls ? { tls: { certFile: abs(c.tls.certFile), keyFile: abs(c.tls.keyFile), ...(c.tls.caFile ? { caFile: abs(c.tls.caFile) } : {}) } } : {}),
  };
}

export function loadBuilderConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): BuilderConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new BuilderConfigError(`cannot read the builder config ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new BuilderConfigError(`the builder config ${file} is not JSON: ${(err as Error).message}`);
  }
  return resolveBuilderConfig(data, dirname(resolve(file)), env);
}

function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)/i.exec(v.trim())!;
  const power = " kmgt".indexOf((m[2] || " ").toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** power);
}
