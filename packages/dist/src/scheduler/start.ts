/** Turns a validated config into a listening scheduler. */
import type { Server } from "node:http";
import { readFile } from "node:fs/promises";
import { importJWK, importSPKI, type JWK } from "jose";
import { ConfigError } from "@reprise/core/errors";
import { Logger } from "@reprise/core/logger";
import { AccessVerifier, type AccessPolicy, type Role, type VerificationKey } from "../auth/access-token.js";
import { JobTokenSigner } from "../auth/job-token.js";
import { createFarmServer, listen, parseListen, serverUrl } from "../http/listen.js";
import { DIST_VERSION } from "../version.js";
import type { SchedulerConfig } from "./config.js";
import { schedulerRequestListener } from "./routes.js";
import { Scheduler } from "./scheduler.js";

export interface RunningScheduler {
  url: string;
  scheduler: Scheduler;
  server: Server;
  /** The scheduler's public key (undefined with HS256 per-builder keys). */
  publicKeyJwk?: JWK;
  close(): Promise<void>;
}

async function readConfigured(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read ${what} ${path}`, (error as NodeJS.ErrnoException).code ?? String(error));
  }
}

async function tokensOf(inline: string[], file: string | undefined, what: string): Promise<string[]> {
  if (!file) return inline;
  const lines = (await readConfigured(file, what))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const short = lines.find((l) => l.length < 16);
  if (short !== undefined) throw new ConfigError(`${what} ${file}`, "tokens must be at least 16 characters");
  return [...inline, ...lines];
}

async function jwtPolicy(jwt: NonNullable<SchedulerConfig["auth"]["jwt"]>): Promise<AccessPolicy["jwt"]> {
  if (jwt.secretFile) {
    const secret = new TextEncoder().encode((await readConfigured(jwt.secretFile, "the JWT secret")).trim());
    if (secret.length < 32) throw new ConfigError(`JWT secret ${jwt.secretFile}`, "use at least 32 bytes");
    return { key: secret, algorithms: jwt.algorithms ?? ["HS256"], issuer: jwt.issuer };
  }
  const text = (await readConfigured(jwt.publicKeyFile!, "the JWT public key")).trim();
  try {
    if (text.startsWith("{")) {
      const jwk = JSON.parse(text) as JWK;
      if (jwk.d) throw new Error("the file holds a private key; give the scheduler the public one");
      const alg = jwt.algorithms?.[0] ?? jwk.alg;
      if (!alg) throw new Error('the JWK names no "alg"; set auth.jwt.algorithms');
      return { key: (await importJWK(jwk, alg)) as VerificationKey, algorithms: jwt.algorithms ?? [alg], issuer: jwt.issuer };
    }
    const alg = jwt.algorithms?.[0];
    if (!alg) throw new Error("a PEM key needs auth.jwt.algorithms (e.g. [\"ES256\"])");
    return { key: await importSPKI(text, alg), algorithms: jwt.algorithms!, issuer: jwt.issuer };
  } catch (error) {
    throw new ConfigError(`JWT public key ${jwt.publicKeyFile}`, error instanceof Error ? error.message : String(error));
  }
}

async function verifier(role: Role, config: SchedulerConfig, jwt: AccessPolicy["jwt"]): Promise<AccessVerifier> {
  const auth = config.auth;
  const tokens = role === "client" ? await tokensOf(auth.clientTokens, auth.clientTokensFile, "the client tokens file") : await tokensOf(auth.builderTokens, auth.builderTokensFile, "the builder tokens file");
  const result = new AccessVerifier(role, { tokens, jwt });
  if (!result.configured) {
    const env = role === "client" ? "REPRISE_DIST_CLIENT_TOKENS" : "REPRISE_DIST_BUILDER_TOKENS";
    throw new ConfigError(`no ${role} can authenticate`, `set auth.${role}Tokens (or ${env}) or auth.jwt in the scheduler config; every request must be authenticated`);
  }
  return result;
}

async function signerOf(config: SchedulerConfig): Promise<JobTokenSigner> {
  const { privateKeyFile, ttlSeconds } = config.jobTokens;
  if (!privateKeyFile) return JobTokenSigner.generate(config.jobTokens.alg ?? "HS256", ttlSeconds);
  if (config.jobTokens.alg === "HS256") throw new ConfigError("jobTokens.privateKeyFile", "HS256 job tokens use a key per builder derived at registration; remove the key file or choose ES256/EdDSA");
  try {
    const jwk = JSON.parse(await readConfigured(privateKeyFile, "the job-token key")) as JWK;
    const alg = config.jobTokens.alg ?? (jwk.alg === "EdDSA" ? "EdDSA" : "ES256");
    if (jwk.alg && jwk.alg !== alg) throw new ConfigError(`job-token key ${privateKeyFile}`, `it is an ${jwk.alg} key; set jobTokens.alg: ${jwk.alg} (or REPRISE_DIST_JOB_TOKEN_ALG)`);
    return await JobTokenSigner.fromPrivateJwk(jwk, alg, ttlSeconds);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`job-token key ${privateKeyFile}`, error instanceof Error ? error.message : String(error));
  }
}

export async function startScheduler(config: SchedulerConfig, options: { logger?: Logger } = {}): Promise<RunningScheduler> {
  const logger = options.logger ?? new Logger(config.logLevel, undefined, "reprise-dist scheduler");
  const address = parseListen(config.listen);
  const jwt = config.auth.jwt ? await jwtPolicy(config.auth.jwt) : undefined;
  const [clients, builders, signer] = await Promise.all([verifier("client", config, jwt), verifier("builder", config, jwt), signerOf(config)]);
  const scheduler = new Scheduler({
    version: DIST_VERSION,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    missedHeartbeats: config.missedHeartbeats,
    allocationGraceMs: config.allocationGraceMs,
    unclaimedGraceMs: config.unclaimedGraceMs,
    queue: config.queue,
    signer,
    logger,
  });
  const listener = schedulerRequestListener({ scheduler, clients, builders, version: DIST_VERSION, jsonBodyLimit: config.limits.jsonBodyBytes, logger });
  const server = await createFarmServer(listener, config.tls);
  let bound;
  try {
    bound = await listen(server, address);
  } catch (error) {
    scheduler.close();
    throw error;
  }
  const url = serverUrl(bound, Boolean(config.tls));
  logger.info(`listening on ${url} (protocol 1, job tokens ${signer.alg})`);
  return {
    url,
    scheduler,
    server,
    publicKeyJwk: signer.publicKeyJwk,
    close: () =>
      new Promise<void>((resolve) => {
        scheduler.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
