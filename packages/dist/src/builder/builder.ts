/**
 * A builder: checks its sandbox, registers with the scheduler, serves jobs
 * and heartbeats until stopped. It refuses to start, with one line saying
 * why, without a usable sandbox, a reachable scheduler or an accepted token.
 */
import { join } from "node:path";
import { availableParallelism, loadavg, totalmem } from "node:os";
import { Engine, Logger, REPRISE_VERSION, SandboxSelector, sandboxNames, type Sandbox } from "@reprise/core";
import bwrapSandboxPlugin from "@reprise/plugin-sandbox-bwrap";
import dockerSandboxPlugin from "@reprise/plugin-sandbox-docker";
import type { BuilderConfig } from "./config.js";
import { BuilderStores } from "./stores.js";
import { JobRunner } from "./job-runner.js";
import { ProvidedToolchains, type ToolchainProvider } from "./toolchain-providers.js";
import { createRustToolchainProvider } from "@reprise/plugin-rustup/provider";
import { JobTokenVerifier } from "./job-tokens.js";
import { SchedulerLink, type RegisterAnswer, type Registration } from "./scheduler-link.js";
import { FinishedReports } from "./finished-reports.js";
import { BuilderServer } from "./server.js";
import { HeldToolchains } from "./held-toolchains.js";
import { hostPlatform } from "../platform.js";
import { farmAgent } from "../http/client.js";

/** Why a builder does not start: one line for the operator. */
export class BuilderStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BuilderStartError";
  }
}

export interface RunningBuilder {
  builderId: string;
  url: string;
  port: number;
  sandbox: string;
  server: BuilderServer;
  stop(): Promise<void>;
}

const PRUNE_EVERY_MS = 5 * 60_000;

/** What the builder can provide by descriptor, for registration and heartbeats (omitted when nothing). */
function providedReport(p: ProvidedToolchains): { installable?: string[]; capabilities?: string[] } {
  const installable = p.installable();
  const capabilities = p.capabilities();
  return { ...(installable.length ? { installable } : {}), ...(capabilities.length ? { capabilities } : {}) };
}

/** The Rust targets of the descriptors it holds (`rustc:<release>:<commit>:<target>:<std digest>`), for status. */
function rustTargetsHeld(ids: readonly string[]): { target: string; held: boolean }[] {
  const targets = new Set(ids.filter((id) => id.startsWith("rustc:")).map((id) => id.split(":")[3]!));
  return [...targets].sort().map((target) => ({ target, held: true }));
}

/** The sandboxes of `setting` usable here, first the one jobs use; a BuilderStartError when none is. */
export async function probeSandboxes(setting: string, options: Record<string, unknown>): Promise<{ chosen: Sandbox; usable: string[] }> {
  const engine = new Engine();
  engine.use(bwrapSandboxPlugin()).use(dockerSandboxPlugin());
  const selector = new SandboxSelector(engine);
  const usable: string[] = [];
  const reasons: string[] = [];
  let chosen: Sandbox | undefined;
  for (const name of sandboxNames(setting)) {
    try {
      const sandbox = await selector.select(name, options);
      usable.push(name);
      chosen ??= sandbox;
    } catch (err) {
      reasons.push((err as Error).message.replace(/\s+/g, " "));
    }
  }
  if (!chosen) throw new BuilderStartError(`no sandbox usable (a builder never runs jobs unsandboxed): ${reasons.join("; ")}`);
  return { chosen, usable };
}

export async function startBuilder(config: BuilderConfig, logger = new Logger(config.logLevel, undefined, "builder")): Promise<RunningBuilder> {
  const { chosen: sandbox, usable } = await probeSandboxes(config.sandbox, config.sandboxOptions);
  const stores = new BuilderStores({
    dataDir: config.dataDir,
    toolchainCacheBytes: config.toolchainCacheSize,
    blobStoreBytes: config.blobStoreSize,
    maxBlobUpload: config.maxBlobUpload,
    maxToolchainUpload: config.maxToolchainUpload,
  });
  let own: HeldToolchains;
  try {
    own = await HeldToolchains.prepare(config.toolchains, config.dataDir, stores.toolchains, (m) => logger.info("%s", m));
  } catch (err) {
    throw new BuilderStartError((err as Error).message);
  }
  const log = (level: "info" | "warn" | "debug", msg: string) => logger[level]("%s", msg);
  const providers: ToolchainProvider[] = config.rust ? [createRustToolchainProvider(config.rust, config.dataDir, undefined, (m) => logger.warn("%s", m))] : [];
  const provided = new ProvidedToolchains(providers, config.dataDir, log);
  await provided.refresh();
  const runner = new JobRunner({ stores, sandbox, scratchRoot: join(config.dataDir, "jobs"), inputTreesDir: join(config.dataDir, "trees"), toolchainTreesDir: join(config.dataDir, "toolchain-trees"), maxRunningJobs: config.maxRunningJobs, caps: config.limits, provided, ownToolchain: (id) => own.resolve(id) });
  /** The toolchains to announce and the toolchain cache's free bytes (one listing of the store). */
  const toolchainReport = () => {
    const held = stores.toolchainsHeld();
    return { toolchains: [...held.ids, ...own.equivalenceIds(), ...provided.held()], freeToolchainBytes: held.freeBytes };
  };
  const dispatcher = farmAgent(config.tls?.caFile ? { caFile: config.tls.caFile } : {});
  const reports = new FinishedReports(config.schedulerUrl, config.token, config.tls?.caFile, log);
  const link = new SchedulerLink(config.schedulerUrl, config.token, dispatcher, log, reports);
  let verifier: JobTokenVerifier | undefined;
  const server = new BuilderServer({
    platform: hostPlatform(),
    stores,
    runner,
    maxInlineBody: config.maxInlineBody,
    verifier: () => verifier,
    ...(config.tls ? { tls: config.tls } : {}),
    onJobDone: (jobId, ok, ms) => link.finished(jobId, ok, ms),
    log,
  });
  let port: number;
  try {
    port = await server.listen(config.listen.host, config.listen.port);
  } catch (err) {
    throw new BuilderStartError(`cannot listen on ${config.listen.host}:${config.listen.port}: ${(err as Error).message}`);
  }
  const scheme = config.tls ? "https" : "http";
  const host = config.listen.host === "0.0.0.0" || config.listen.host === "::" ? "127.0.0.1" : config.listen.host;
  const url = config.publicUrl ?? `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const cores = availableParallelism();
  const registration = (): Registration => ({
    builderId: config.builderId,
    url,
    platform: hostPlatform(),
    cores,
    memoryBytes: totalmem(),
    sandboxes: usable,
    ...toolchainReport(),
    held: own.descriptions(),
    rustTargets: rustTargetsHeld(provided.held()),
    version: REPRISE_VERSION,
    maxJobs: config.maxJobs,
    ...providedReport(provided),
  });
  const useAnswer = async (a: RegisterAnswer) => {
    verifier = JobTokenVerifier.create(a, link.token, config.builderId, verifier);
  };
  let answer;
  try {
    answer = await link.register(registration());
    await useAnswer(answer);
  } catch (err) {
    await server.close();
    throw new BuilderStartError((err as Error).message);
  }
  link.onRegistered = useAnswer;
  link.startHeartbeats(
    answer.heartbeatIntervalMs,
    () => {
      // Others' load: what the machine runs beyond this builder's own jobs (#620: a workstation's owner comes first).
      const othersLoad = Math.max(0, loadavg()[0]! - runner.running);
      return {
        runningJobs: runner.running + runner.queued,
        ...toolchainReport(),
        ...providedReport(provided),
        // Its own slots the scheduler counts (maxJobs); this says whether the owner's load leaves room at all.
        acceptingJobs: othersLoad < config.yieldAboveLoad,
        ...withJobIds(server.jobsHeardOf()),
      };
    },
    registration,
  );
  const pruneTimer = setInterval(() => {
    try {
      const removed = stores.pruneBlobs();
      if (removed) logger.info("blob store: removed %d bytes of unused inputs", removed);
    } catch (err) {
      logger.warn("blob store prune failed: %s", (err as Error).message);
    }
  }, PRUNE_EVERY_MS).unref();
  logger.info("builder %s serving at %s (sandbox %s, %d job slots, version %s)", config.builderId, url, sandbox.name, config.maxJobs, REPRISE_VERSION);
  return {
    builderId: config.builderId,
    url,
    port,
    sandbox: sandbox.name,
    server,
    stop: async () => {
      clearInterval(pruneTimer);
      link.stop();
      await server.close();
      await dispatcher.close().catch(() => {});
      await runner.scratch.flush();
    },
  };
}

function withJobIds(jobIds: string[] | undefined): { jobIds?: string[] } {
  return jobIds ? { jobIds } : {};
}
