/**
 * The scheduler's configuration: a file (JSON or YAML; `--config F`,
 * `REPRISE_DIST_CONFIG`, or `reprise-dist.config.{json,yaml}` /
 * `.reprise-distrc*` in the working directory), then `REPRISE_DIST_*`
 * environment variables, then command-line options, validated with zod.
 */
import { cosmiconfig } from "cosmiconfig";
import { z } from "zod";
import { ConfigError } from "@reprise/core/errors";
import { LOG_LEVELS } from "@reprise/core/logger";
import { DEFAULT_JSON_BODY_LIMIT, MAX_JOB_TOKEN_TTL_SECONDS } from "../protocol/common.js";

const TOKEN = z.string().min(16, "tokens must be at least 16 characters");

export const SchedulerConfigSchema = z
  .object({
    /** host:port to listen on. */
    listen: z.string().default("127.0.0.1:7420"),
    auth: z
      .object({
        /** Static tokens clients may present. */
        clientTokens: z.array(TOKEN).default([]),
        /** A file with one client token per line (# comments allowed). */
        clientTokensFile: z.string().optional(),
        builderTokens: z.array(TOKEN).default([]),
        builderTokensFile: z.string().optional(),
        /** JWTs signed by this key are accepted too (aud "reprise-dist:client" / "reprise-dist:builder"). */
        jwt: z
          .object({
            /** A public key as JWK (JSON) or PEM (SPKI). */
            publicKeyFile: z.string().optional(),
            /** A shared HMAC secret (HS256), as the file's bytes. */
            secretFile: z.string().optional(),
            algorithms: z.array(z.string()).min(1).optional(),
            issuer: z.string().optional(),
          })
          .strict()
          .refine((j) => Boolean(j.publicKeyFile) !== Boolean(j.secretFile), "set exactly one of publicKeyFile and secretFile")
          .optional(),
      })
      .strict()
      .prefault({}),
    jobTokens: z
      .object({
        // HS256 (the default without a key file): a key per builder that both sides derive from its builder token, nothing crosses
        // the wire, and a MAC costs a tenth of a signature. ES256/EdDSA: one key pair (the key file's own alg when it names one).
        alg: z.enum(["ES256", "EdDSA", "HS256"]).optional(),
        /** A private JWK; without it a key pair is generated at start. */
        privateKeyFile: z.string().optional(),
        ttlSeconds: z.number().int().min(10).max(MAX_JOB_TOKEN_TTL_SECONDS).default(300),
      })
      .strict()
      .prefault({}),
    heartbeatIntervalMs: z.number().int().min(100).max(600_000).default(5_000),
    missedHeartbeats: z.number().int().min(2).max(100).default(3),
    /** An allocation the builder does not report as running after this long is taken back by a heartbeat. */
    allocationGraceMs: z.number().int().min(0).max(600_000).default(10_000),
    /** An allocation whose builder has heard nothing of it this long after it was made (its client vanished) is taken back by the builder's next heartbeat. */
    unclaimedGraceMs: z.number().int().min(500).max(600_000).default(3_000),
    queue: z
      .object({
        defaultWaitMs: z.number().int().min(0).max(600_000).default(2_000),
        maxWaitMs: z.number().int().min(0).max(600_000).default(30_000),
        maxLength: z.number().int().min(0).max(1_000_000).default(4_096),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({ jsonBodyBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(DEFAULT_JSON_BODY_LIMIT) })
      .strict()
      .prefault({}),
    tls: z
      .object({ cert: z.string(), key: z.string(), ca: z.string().optional(), requestClientCert: z.boolean().default(false) })
      .strict()
      .optional(),
    logLevel: z.enum(LOG_LEVELS).default("warn"),
  })
  .strict();

export type SchedulerConfig = z.infer<typeof SchedulerConfigSchema>;
type RawConfig = Record<string, unknown>;

export interface SchedulerConfigSources {
  configPath?: string;
  listen?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

function list(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

function integer(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new ConfigError(`${name}=${JSON.stringify(value)}`, "expected an integer");
  return n;
}

function section(raw: RawConfig, key: string): RawConfig {
  const value = raw[key];
  if (value === undefined) return (raw[key] = {});
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(`scheduler config: ${key} must be an object`);
  return value as RawConfig;
}

/** `REPRISE_DIST_*` variables over the file's values. */
export function applyEnv(raw: RawConfig, env: NodeJS.ProcessEnv): void {
  const auth = () => section(raw, "auth");
  if (env.REPRISE_DIST_LISTEN) raw.listen = env.REPRISE_DIST_LISTEN;
  if (env.REPRISE_DIST_CLIENT_TOKENS) auth().clientTokens = list(env.REPRISE_DIST_CLIENT_TOKENS);
  if (env.REPRISE_DIST_CLIENT_TOKENS_FILE) auth().clientTokensFile = env.REPRISE_DIST_CLIENT_TOKENS_FILE;
  if (env.REPRISE_DIST_BUILDER_TOKENS) auth().builderTokens = list(env.REPRISE_DIST_BUILDER_TOKENS);
  if (env.REPRISE_DIST_BUILDER_TOKENS_FILE) auth().builderTokensFile = env.REPRISE_DIST_BUILDER_TOKENS_FILE;
  if (env.REPRISE_DIST_JWT_PUBLIC_KEY_FILE) auth().jwt = { ...(auth().jwt as RawConfig | undefined), publicKeyFile: env.REPRISE_DIST_JWT_PUBLIC_KEY_FILE };
  if (env.REPRISE_DIST_JOB_TOKEN_KEY_FILE) section(raw, "jobTokens").privateKeyFile = env.REPRISE_DIST_JOB_TOKEN_KEY_FILE;
  if (env.REPRISE_DIST_JOB_TOKEN_ALG) section(raw, "jobTokens").alg = env.REPRISE_DIST_JOB_TOKEN_ALG;
  if (env.REPRISE_DIST_HEARTBEAT_MS) raw.heartbeatIntervalMs = integer("REPRISE_DIST_HEARTBEAT_MS", env.REPRISE_DIST_HEARTBEAT_MS);
  if (env.REPRISE_DIST_TLS_CERT || env.REPRISE_DIST_TLS_KEY) {
    raw.tls = { ...(raw.tls as RawConfig | undefined), cert: env.REPRISE_DIST_TLS_CERT, key: env.REPRISE_DIST_TLS_KEY };
  }
  if (env.REPRISE_DIST_TLS_CA) raw.tls = { ...(raw.tls as RawConfig | undefined), ca: env.REPRISE_DIST_TLS_CA };
  if (env.REPRISE_DIST_LOG) raw.logLevel = env.REPRISE_DIST_LOG;
}

const SEARCH_PLACES = [
  "reprise-dist.config.json",
  "reprise-dist.config.yaml",
  "reprise-dist.config.yml",
  ".reprise-distrc",
  ".reprise-distrc.json",
  ".reprise-distrc.yaml",
  ".reprise-distrc.yml",
];

async function readConfigFile(sources: SchedulerConfigSources): Promise<{ raw: RawConfig; from?: string }> {
  // Data files only: a server's config never executes code.
  const explorer = cosmiconfig("reprise-dist", { searchStrategy: "none", cache: false, searchPlaces: SEARCH_PLACES });
  const explicit = sources.configPath ?? sources.env?.REPRISE_DIST_CONFIG;
  try {
    const result = explicit ? await explorer.load(explicit) : await explorer.search(sources.cwd ?? process.cwd());
    if (!result || result.isEmpty) return { raw: {}, from: result?.filepath };
    if (typeof result.config !== "object" || result.config === null || Array.isArray(result.config)) {
      throw new ConfigError(`scheduler config ${result.filepath}`, "the file must hold an object");
    }
    return { raw: structuredClone(result.config) as RawConfig, from: result.filepath };
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const why = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError(`cannot read the scheduler config ${explicit ?? "file"}`, why);
  }
}

/** File, then environment, then command line; throws `ConfigError` naming the first bad key. */
export async function loadSchedulerConfig(sources: SchedulerConfigSources = {}): Promise<SchedulerConfig & { configFile?: string }> {
  const { raw, from } = await readConfigFile(sources);
  applyEnv(raw, sources.env ?? process.env);
  if (sources.listen) raw.listen = sources.listen;
  const parsed = SchedulerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`scheduler config${from ? ` ${from}` : ""}: ${issue.path.join(".") || "(root)"}`, issue.message);
  }
  return { ...parsed.data, configFile: from };
}
