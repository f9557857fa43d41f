/**
 * The farm client's `compileMiss` tap: a distributable miss is sent to a
 * builder the scheduler allocates; anything else, and any failure of the
 * farm, leaves the miss to the next tap or a local compile (or fails the
 * call, with `dist.fallback: "fail"`), with the reason counted.
 */
import { join } from "node:path";
import pLimit from "p-limit";
import {
  buildJob,
  DEFAULT_LIMITS,
  jobRefusal,
  FileHashCache,
  identitiesFromList,
  InputStore,
  runCompiler,
  ToolchainCache,
  type ClosureSource,
  type CompileJob,
  type JobPlan,
  type DistSettings,
  type Engine,
  type MissCompileResult,
  type MissContext,
  type Platform,
} from "@reprise/core";
import { farmAgent, farmRequest, FarmRequestError } from "../http/client.js";
import { SchedulerClient, type Allocation } from "./scheduler-client.js";
import { runOnBuilder, UploadError, type RemoteToolchain } from "./builder-client.js";
import { JobResultReader, type ReceivedResult } from "./result-receiver.js";
import { JOB_RESULT_LIMIT_SLACK } from "../protocol/job-result.js";
import { jobToWire } from "../builder/job-message.js";
import { EquivalentJobs, equivalentJob } from "./equivalent-job.js";
import { keptEquivalences, type KeptEquivalences } from "./kept-equivalences.js";
import { DeclaredToolchains, type DeclaredArchive } from "./declared-toolchains.js";
import { BuilderHoldings } from "./builder-holdings.js";
import { guessedClosure, judgeSpeculation, ParsedDepFiles, RememberedClosures, returnedDepFile, returnedList, toRemember } from "./speculation.js";

/** How long a builder that could not be reached is not used again by this client. */
const QUARANTINE_MS = 30_000;
/** How often a long wait for a builder is reported in the daemon's log. */
const WAIT_REPORT_MS = 10_000;
/** The input store is shared with hermetic mode and bounded the same way. */
const PRUNE_EVERY_MS = 10 * 60_000;
const INPUT_STORE_BYTES = 1024 ** 3;
const INPUT_GRACE_MS = 30 * 60_000;

interface Workspace {
  toolchains: ToolchainCache;
  inputs: InputStore;
  /** The equivalence probe's answers of earlier daemons on this cache. */
  equivalences: KeptEquivalences;
  lastPrune: number;
}

const CLOSURE_FROM: Record<ClosureSource, string> = {
  scan: "a scan",
  preprocessing: "the lookup's preprocessing",
  "dependency-scan": "the call's dependency scan",
  remembered: "this source's last job (no scan; checked after the job)",
};
const PREDICTED = "the compiler plugin's prediction (no scan; checked after the job)";

/** Why the farm did not compile a miss: `reason` is counted in stats as a fallback. */
class NotOnFarm extends Error {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(detail);
  }
}

export class FarmCompiler {
  /** For a daemon that offers no hash cache of its own (MissContext.fileHashes). */
  private readonly hashes = new FileHashCache();
  private readonly workspaces = new Map<string, Workspace>();
  private readonly schedulers = new Map<string, SchedulerClient>();
  private readonly quarantined = new Map<string, number>();
  private readonly equivalents: EquivalentJobs;
  private readonly declared = new DeclaredToolchains();
  private readonly holdings = new BuilderHoldings();
  private readonly closures = new RememberedClosures();
  private readonly depFiles = new ParsedDepFiles();
  /**
   * The in-process part of preparing a job (its prediction, then its inputs' digests and stores), one job at a time:
   * the first wave of a build (`-j8`) would otherwise interleave eight preparations on the daemon's one thread, and
   * the first job would leave only when the eighth is ready, with the builders idle meanwhile. Scans stay outside.
   */
  private readonly oneAtATime = pLimit(1);

  constructor(private readonly engine: Engine) {
    this.equivalents = new EquivalentJobs(engine);
  }

  /** The scheduler client for these settings (one connection pool per URL, token and CA). */
  scheduler(dist: DistSettings): SchedulerClient {
    const key = `${dist.schedulerUrl}\0${dist.token ?? ""}\0${dist.caFile ?? ""}`;
    let s = this.schedulers.get(key);
    if (!s) {
      s = new SchedulerClient(dist.schedulerUrl, dist.token, farmAgent(dist.caFile ? { caFile: dist.caFile } : {}));
      this.schedulers.set(key, s);
    }
    return s;
  }

  async compile(ctx: MissContext): Promise<MissCompileResult | undefined> {
    const dist = ctx.settings.dist;
    if (!dist) return undefined;
    // The local machine's own cores first: the farm takes what they cannot (sccache #617, #1071).
    if (dist.mode === "overflow" && ctx.localSlotFree()) return undefined;
    try {
      const answer = await this.onFarm(ctx, dist);
      ctx.logger.debug("%s: farm: answered", ctx.invocation.sourceFile);
      return answer;
    } catch (err) {
      if (!(err instanceof NotOnFarm)) throw err;
      ctx.stats.fallback(err.reason);
      ctx.logger.info("not compiled on the farm (%s: %s): %s", err.reason, err.message, ctx.invocation.sourceFile);
      // A job that needs a runner nobody offers (a crate whose linker no builder has) was never the farm's to do.
      const neverTheFarms = err.reason.startsWith("dist-not-distributable") || (err.reason === "dist-no-builder" && ctx.invocation.needsRunner !== undefined);
      if (dist.fallback === "fail" && !neverTheFarms) {
        const message = `reprise: the build farm could not compile ${ctx.invocation.sourceFile} (${err.reason}: ${err.message}) and dist.fallback is "fail"\n`;
        return { exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from(message), durationMs: 0 };
      }
      return undefined;
    }
  }

  private workspace(dir: string, logger: MissContext["logger"]): Workspace {
    let ws = this.workspaces.get(dir);
    if (!ws) {
      // The same places hermetic mode uses: a toolchain packaged for one is ready for the other.
      ws = {
        toolchains: new ToolchainCache(this.engine, { dir }),
        inputs: new InputStore(join(dir, "hermetic", "inputs")),
        equivalences: keptEquivalences(dir, (err) => logger.debug("equivalence answers in %s: %s", dir, err.message)),
        lastPrune: 0,
      };
      this.workspaces.set(dir, ws);
    }
    if (Date.now() - ws.lastPrune > PRUNE_EVERY_MS) {
      ws.lastPrune = Date.now();
      const inputs = ws.inputs;
      setImmediate(() => {
        try {
          inputs.prune({ maxBytes: INPUT_STORE_BYTES, graceMs: INPUT_GRACE_MS });
        } catch (err) {
          logger.warn("input store %s: prune failed: %s", inputs.dir, (err as Error).message);
        }
      });
    }
    return ws;
  }

  private async onFarm(ctx: MissContext, dist: DistSettings): Promise<MissCompileResult> {
    const scheduler = this.scheduler(dist);
    if (!scheduler.breaker.allow()) throw new NotOnFarm("dist-circuit-open", `not asking ${dist.schedulerUrl} for a while: ${scheduler.lastError ?? "it failed"}`);
    // A job that needs more of its runner than a toolchain (needsRunner) goes only where its descriptor's requirements lead.
    const refused = jobRefusal(ctx.invocation, { vouched: true });
    if (refused) throw new NotOnFarm(`dist-not-distributable-${refused.reason.replace(/^hermetic-/, "")}`, refused.detail);
    const ws = this.workspace(ctx.settings.dir, ctx.logger);
    // The "farm:" debug lines are a timeline of each job (bench/farm-timeline.mjs reads them).
    ctx.logger.debug("%s: farm: miss", ctx.invocation.sourceFile);
    // A compiler's first jobs wait for its toolchain (packaged, or found to be one already packaged) and its equivalence
    // probe (a canary compile), each once per cache (kept on disk): both at once, and the probe while the job is prepared.
    const toolchainReady = this.toolchainOf(ctx, ws);
    toolchainReady.catch(() => {}); // awaited below; a failure is thrown there
    const declaredHere = dist.declaredToolchains?.[ctx.compiler.path] ?? [];
    const probe = dist.crossArch || declaredHere.length ? this.equivalents.portable(ctx.compiler, ctx.logger, ws.equivalences) : undefined;
    // The daemon's hash cache, with the tokens its store uses: a file the engine hashed is not read again, nor one the job hashed by the store.
    const hashes = ctx.fileHashes?.cache ?? this.hashes;
    // A scan that lists what it read with identities (gcc's read trace) spares a stat per input.
    const readIdentities = identitiesFromList(this.engine, ctx.compiler.family);
    const limits = { ...DEFAULT_LIMITS, ...ctx.settings.jobLimits };
    const options = {
      vouched: true,
      ...(ctx.fileHashes ? { tokens: ctx.fileHashes.tokens } : {}),
      ...(ctx.preprocessDeps !== undefined ? { preprocessDeps: ctx.preprocessDeps } : {}),
      ...(ctx.dependencyScan ? { dependencyScan: ctx.dependencyScan } : {}),
      ...(readIdentities ? { readIdentities } : {}),
    };
    // Without a scan when this source's last job read what it remembers and the compile returns a list to check that against.
    const dep = ctx.closureHoldsHere ? returnedDepFile(ctx.invocation) : undefined;
    let toolchain = await toolchainReady;
    ctx.logger.debug("%s: farm: toolchain ready", ctx.invocation.sourceFile);
    // A first job of its source: the compiler plugin's prediction of what it reads instead (docs/dist-design.md, "Farm-predict round").
    const guessed =
      dep && options.preprocessDeps === undefined && !options.dependencyScan
        ? await this.oneAtATime(async () => {
            const guess = await guessedClosure(ctx, this.closures);
            return { guess, plan: guess ? await buildJob(ctx.request, ctx.invocation, toolchain.id, ws.inputs, hashes, limits, { ...options, closure: guess.files }) : undefined };
          })
        : undefined;
    const guess = guessed?.guess;
    let plan: JobPlan | undefined = guessed?.plan;
    if (guess && plan && !plan.ok) {
      ctx.stats.speculation({ rejected: "job" }, guess.from);
      ctx.logger.debug("%s: no job from the remembered files (%s: %s); scanning", ctx.invocation.sourceFile, plan.reason, plan.detail);
      plan = undefined;
    }
    plan ??= await buildJob(ctx.request, ctx.invocation, toolchain.id, ws.inputs, hashes, limits, options);
    if (!plan.ok) throw new NotOnFarm(`dist-not-distributable-${plan.reason.replace(/^hermetic-/, "")}`, plan.detail);
    const scanned = plan.closureFrom !== "remembered";
    ctx.logger.debug("%s: farm: job prepared", ctx.invocation.sourceFile);
    // Across architectures (archives only: a descriptor names what any builder may provide).
    const declaredPaths = toolchain.descriptor ? [] : declaredHere;
    const portable = !toolchain.descriptor ? await probe?.answer(toolchain.id) : undefined;
    // Archives the user declared for this compiler, for other hosts: offered when they prove to be the same build.
    const alternatives = portable && declaredPaths.length ? await this.declared.usable(ctx.compiler, portable, declaredPaths, ctx.logger) : [];
    if (portable) ctx.logger.debug("%s for %s: equivalent toolchains %s%s", ctx.compiler.path, ctx.compiler.target, portable.equivalence, alternatives.length ? `, declared ${alternatives.map((a) => a.id).join(" ")}` : "");
    const allocateExtra = () => ({
      equivalents: portable && dist.crossArch ? [portable.equivalence] : [],
      alternatives,
      ...(toolchain.requires ? { requires: toolchain.requires } : {}),
    });
    const started = performance.now();
    const totals = { roundTrips: 0, bytesUploaded: 0 };
    const argv0 = plan.job.argv[0]!;
    const links = plan.job.links;
    const runJob = async (job: CompileJob) => {
      const useToolchain = (t: JobToolchain) => {
        toolchain = t;
        job.toolchainId = t.id;
        // The toolchain holds the compiler under its own name; the job calls it as the build did (cc, not gcc-12).
        if (t.compilerPath && argv0 !== t.compilerPath) job.links = [{ path: argv0, target: t.compilerPath }];
        else if (links) job.links = links;
        else delete job.links;
      };
      useToolchain(toolchain);
      let lastFailure: NotOnFarm | undefined;
      // Outputs are checked and written while they arrive, into temporary files until the result proves whole.
      const expected = job.outputs.map((o) => ({ ...o, executable: ctx.invocation.outputs.find((i) => i.role === o.role)?.executable === true }));
      const reader = () => new JobResultReader(expected, job.limits.maxOutputBytes + JOB_RESULT_LIMIT_SLACK);
      for (let attempt = 0; attempt < 2; attempt++) {
        let alloc: Allocation;
        try {
          try {
            alloc = await this.allocate(scheduler, toolchain.id, toolchain.runsOn, dist, allocateExtra(), ctx);
          } catch (err) {
            // No builder provides the descriptor (none has rustup or that toolchain): ship the toolchain as an archive instead.
            if (!(err instanceof NotOnFarm && err.reason === "dist-no-builder" && toolchain.descriptor && !ctx.invocation.needsRunner)) throw err;
            ctx.logger.debug("no builder provides %s; sending the toolchain as an archive", toolchain.id);
            useToolchain(await this.archiveOf(ctx, ws));
            alloc = await this.allocate(scheduler, toolchain.id, toolchain.runsOn, dist, allocateExtra(), ctx);
          }
        } catch (err) {
          // No second builder for the retry: what made the first attempt fail is the reason.
          if (lastFailure && err instanceof NotOnFarm) throw lastFailure;
          throw err;
        }
        // A builder of another architecture holding an equivalent toolchain runs the job with it (docs/cross-arch.md).
        const equivalentId = alloc.toolchainId && alloc.toolchainId !== toolchain.id ? alloc.toolchainId : undefined;
        const alternative = alternatives.find((a) => a.id === equivalentId);
        let sent = equivalentId && portable ? await equivalentJob(job, equivalentId, portable, ws.inputs).catch(() => undefined) : job;
        // Whether the job that ran carried the inputs as buildJob hashed them (not an equivalent toolchain's).
        const carriedAsHashed = sent === job && !alternative;
        if (!sent) {
          void scheduler.release(alloc.jobId); // never sent: its slot goes back now
          throw new NotOnFarm("dist-not-distributable-equivalent", `a file the job must carry to ${alloc.builderId} cannot be read`);
        }
        if (alternative) sent = { ...sent, links: sent.argv[0] === alternative.compilerPath ? [] : [{ path: sent.argv[0]!, target: alternative.compilerPath }] };
        const wire = jobToWire(sent);
        const remoteToolchain = alternative ?? (equivalentId ? { id: equivalentId, archivePath: "", archiveBytes: 0, ownedByBuilder: true } : toolchain);
        // No silent waits (sccache #2417): a long one says in the log what it waits for.
        const waitStarted = Date.now();
        const waiting = setInterval(
          () => ctx.logger.warn("%s: waiting %d s for builder %s (%s), at most %d s", ctx.invocation.sourceFile, Math.round((Date.now() - waitStarted) / 1000), alloc.builderId, alloc.builderUrl, Math.round(dist.jobTimeoutMs / 1000)),
          WAIT_REPORT_MS,
        );
        scheduler.ownJobs.started();
        try {
          const ex = await runOnBuilder(alloc, remoteToolchain, wire, ws.inputs, scheduler.dispatcher, dist.jobTimeoutMs, AbortSignal.timeout(dist.jobTimeoutMs), reader, (m) =>
            ctx.logger.debug("builder %s lacks %s%d input(s): %s", alloc.builderId, m.toolchain ? "the toolchain and " : "", m.blobs.length, m.blobs.slice(0, 20).join(" ")),
            this.holdings,
          );
          ctx.logger.debug("%s: farm: result of job %s from %s (run %s ms there, %d round trips, %d bytes uploaded)", ctx.invocation.sourceFile, alloc.jobId, alloc.builderId, ex.result.runMs ?? "?", ex.roundTrips, ex.bytesUploaded);
          totals.roundTrips += ex.roundTrips;
          totals.bytesUploaded += ex.bytesUploaded;
          return { checked: ex.result, carriedAsHashed };
        } catch (err) {
          if (!(err instanceof FarmRequestError)) throw err;
          lastFailure = builderFailure(err);
          if ((err.kind === "unreachable" || err.kind === "timeout") && !(err instanceof UploadError)) this.quarantined.set(alloc.builderId, Date.now() + QUARANTINE_MS);
          // A builder that never answered holds no job of ours: its slot goes back now, not when the scheduler gives up on it.
          if (err.kind === "unreachable" && err.status === 0) void scheduler.release(alloc.jobId);
          ctx.logger.warn("builder %s failed %s (attempt %d): %s", alloc.builderId, ctx.invocation.sourceFile, attempt + 1, err.message);
        } finally {
          clearInterval(waiting);
          scheduler.ownJobs.ended();
        }
      }
      throw lastFailure ?? new NotOnFarm("dist-no-builder", "no builder other than the one that failed");
    };
    ctx.logger.debug("%s: farm job of %d inputs, closure from %s", ctx.invocation.sourceFile, plan.job.inputs.length, guess?.from === "predicted" && !scanned ? PREDICTED : CLOSURE_FROM[plan.closureFrom]);
    let ran = await runJob(plan.job);
    let listed = dep && returnedList(ctx, ran.checked, dep, this.depFiles);
    let remember: string[] | undefined;
    if (!scanned) {
      const verdict = await judgeSpeculation(ctx, plan, ran.checked.exitCode, listed, hashes);
      if (verdict.accepted) {
        ctx.stats.speculation("accepted", guess?.from);
        remember = verdict.remember;
      } else {
        // Nothing of it reaches the build or the cache: its outputs are still temporary files.
        ran.checked.discard();
        ctx.stats.speculation({ rejected: verdict.reason }, guess?.from);
        ctx.logger.debug("%s: the job from %s files is not this compile's (%s%s); scanning and running it again", ctx.invocation.sourceFile, guess?.from ?? "remembered", verdict.reason, verdict.detail ? `: ${verdict.detail}` : "");
        plan = await buildJob(ctx.request, ctx.invocation, toolchain.id, ws.inputs, hashes, limits, options);
        if (!plan.ok) throw new NotOnFarm(`dist-not-distributable-${plan.reason.replace(/^hermetic-/, "")}`, plan.detail);
        ran = await runJob(plan.job);
        listed = dep && returnedList(ctx, ran.checked, dep, this.depFiles);
      }
    }
    if (!remember && listed && ran.checked.exitCode === 0) remember = await toRemember(ctx, plan, listed, hashes);
    const { checked, carriedAsHashed } = ran;
    const roundTripMs = performance.now() - started;
    if (checked.exitCode !== 0) {
      checked.discard();
      return this.confirmFailure(ctx, checked, roundTripMs);
    }
    if (remember) this.closures.set(ctx, remember);
    checked.commit();
    ctx.stats.remoteCompile("farm", { roundTripMs, ...totals });
    // The builder compiled the bytes the job carried: the store records their digests without taking its own.
    // The dependency file it returned, parsed for the check, is not read back nor parsed again by the store.
    const depData = listed && dep ? checked.outputs.find((o) => o.role === dep.role)?.data : undefined;
    return {
      exitCode: 0,
      stdout: checked.stdout,
      stderr: checked.stderr,
      durationMs: roundTripMs,
      outputs: checked.outputs,
      ...(carriedAsHashed ? { inputs: plan.read } : {}),
      ...(listed && depData ? { depFile: { text: depData.toString("utf8"), contents: listed } } : {}),
    };
  }

  /**
   * What the job runs with: a descriptor when a plugin gives one
   * (`describeToolchain`: the builder provides that toolchain itself, nothing
   * is packed or uploaded), else the compiler's packaged archive.
   */
  private async toolchainOf(ctx: MissContext, ws: Workspace): Promise<JobToolchain> {
    let descriptor;
    try {
      descriptor = await this.engine.hooks.describeToolchain.promise({ compiler: ctx.compiler, invocation: ctx.invocation });
    } catch (err) {
      throw new NotOnFarm("dist-not-distributable-toolchain", (err as Error).message);
    }
    const needs = ctx.invocation.needsRunner;
    if (needs && !descriptor?.requires?.length) throw new NotOnFarm(`dist-not-distributable-${needs.reason}`, needs.detail);
    if (descriptor) {
      const runsOn = await this.engine.hooks.resolveArchitecture.promise({ descriptor });
      if (!runsOn?.length) throw new NotOnFarm("dist-not-distributable-toolchain", `no plugin says which machines can provide ${descriptor.summary}`);
      return { id: descriptor.id, runsOn, descriptor: true, ...(descriptor.requires?.length ? { requires: descriptor.requires } : {}) };
    }
    return this.archiveOf(ctx, ws);
  }

  /** The compiler's packaged toolchain archive (made once per compiler, as hermetic mode does). */
  private async archiveOf(ctx: MissContext, ws: Workspace): Promise<JobToolchain> {
    try {
      const archive = await ws.toolchains.archive(ctx.compiler);
      return { id: archive.id, archivePath: archive.archivePath, archiveBytes: archive.archiveBytes, runsOn: archive.manifest.runsOn, compilerPath: archive.manifest.compilerPath };
    } catch (err) {
      throw new NotOnFarm("dist-not-distributable-toolchain", (err as Error).message);
    }
  }

  /** A builder for the job, skipping one this client could not reach lately (asking once more). */
  private async allocate(
    scheduler: SchedulerClient,
    toolchainId: string,
    platforms: { arch: string; os: string; bits?: 32 | 64 }[],
    dist: DistSettings,
    extra: { equivalents: string[]; alternatives: DeclaredArchive[]; requires?: readonly string[] },
    ctx: Pick<MissContext, "logger" | "invocation" | "localSlotFree">,
  ): Promise<Allocation> {
    const waitStarted = Date.now();
    let reported = waitStarted;
    for (let i = 0; i < 2; ) {
      let alloc: Allocation;
      const asked = Date.now();
      // How busy the daemon's one thread was while the scheduler answered: a reply that arrives while it works on
      // other jobs (preparing them, reading their run requests) waits for it (bench/farm-timeline.mjs reports it).
      const loopBefore = performance.eventLoopUtilization();
      ctx.logger.debug("%s: farm: allocation asked", ctx.invocation.sourceFile);
      try {
        alloc = await scheduler.allocate(toolchainId, platforms, dist.allocateTimeoutMs, {
          equivalents: extra.equivalents,
          alternatives: extra.alternatives.map((a) => ({ toolchainId: a.id, platforms: a.runsOn })),
          ...(dist.preferPlatform ? { preferPlatform: dist.preferPlatform } : {}),
          ...(extra.requires?.length ? { requires: extra.requires } : {}),
        });
      } catch (err) {
        if (!(err instanceof FarmRequestError)) throw err;
        if (err.kind === "unreachable" || err.kind === "timeout") throw new NotOnFarm("dist-scheduler-unreachable", err.message);
        if (err.status === 401 || err.status === 403) throw new NotOnFarm("dist-auth", err.message);
        // Busy with this build's own jobs, the farm frees a slot within about a job's time: ask again rather than compile here
        // (in overflow mode, only while this machine's own slots are still all busy).
        const waitAgain = scheduler.ownJobs.workingSince(asked) && !(dist.mode === "overflow" && ctx.localSlotFree()) && Date.now() - waitStarted + dist.allocateTimeoutMs <= dist.jobTimeoutMs;
        if (err.errorCode === "all-busy" && waitAgain) {
          // No silent waits (sccache #2417): a long one says in the log what it waits for.
          const long = Date.now() - reported >= WAIT_REPORT_MS;
          if (long) reported = Date.now();
          ctx.logger[long ? "warn" : "debug"]("%s: waiting %d s for a builder: every one is busy, some with this client's jobs; at most %d s", ctx.invocation.sourceFile, Math.round((Date.now() - waitStarted) / 1000), Math.round(dist.jobTimeoutMs / 1000));
          continue;
        }
        if (err.errorCode === "no-builder" || err.errorCode === "all-busy") throw new NotOnFarm(`dist-${err.errorCode}`, err.message);
        throw new NotOnFarm("dist-scheduler-error", err.message);
      }
      i++;
      ctx.logger.debug("%s: farm: job %s allocated on %s (%d ms, the daemon's thread busy %d %% of it)", ctx.invocation.sourceFile, alloc.jobId, alloc.builderId, Date.now() - asked, Math.round(100 * performance.eventLoopUtilization(loopBefore).utilization));
      const until = this.quarantined.get(alloc.builderId);
      if (until === undefined || until < Date.now() || (await this.healthy(alloc, scheduler))) {
        this.quarantined.delete(alloc.builderId);
        return alloc;
      }
      void scheduler.release(alloc.jobId);
    }
    throw new NotOnFarm("dist-builder-unreachable", "the builders allocated could not be reached lately and still do not answer");
  }

  /** Whether a builder this client could not reach lately answers again (it may have restarted): one short health check. */
  private async healthy(alloc: Allocation, scheduler: SchedulerClient): Promise<boolean> {
    try {
      const base = alloc.builderUrl.endsWith("/") ? alloc.builderUrl : `${alloc.builderUrl}/`;
      const r = await farmRequest({ method: "GET", url: new URL("v1/health", base).href, timeoutMs: 1000, dispatcher: scheduler.dispatcher });
      return r.status === 200;
    } catch {
      return false;
    }
  }

  /**
   * A job that failed on the builder is compiled again here: the builder's
   * result stands when the local compile fails the same way (an error in the
   * source); otherwise the local result is the build's.
   */
  private async confirmFailure(ctx: MissContext, remote: ReceivedResult, roundTripMs: number): Promise<MissCompileResult> {
    const { invocation: inv, request } = ctx;
    const local = await ctx.inLocalSlot(() => runCompiler(inv.compileArgv, request.cwd, inv.compileEnv ?? request.env));
    if (local.exitCode === remote.exitCode && local.stdout.equals(remote.stdout) && local.stderr.equals(remote.stderr)) {
      ctx.stats.remoteCompile("farm", { roundTripMs, bytesUploaded: 0, roundTrips: 1 });
      return { exitCode: remote.exitCode, stdout: remote.stdout, stderr: remote.stderr, durationMs: roundTripMs };
    }
    ctx.logger.warn(
      "the compile of %s failed on the farm (exit status %d) but not the same way here (%d); using the local result. The builder said: %s",
      inv.sourceFile,
      remote.exitCode,
      local.exitCode,
      remote.stderr.toString("utf8").slice(0, 2000),
    );
    ctx.stats.fallback("dist-result-differs");
    return local;
  }
}

interface JobToolchain extends RemoteToolchain {
  runsOn: Platform[];
  /** The compiler's path inside an archive (argv[0] is linked to it). */
  compilerPath?: string;
  requires?: readonly string[];
  /** A descriptor the builder provides (nothing uploaded). */
  descriptor?: boolean;
}

function builderFailure(err: FarmRequestError): NotOnFarm {
  // An upload the job's time limit cut short is that limit's doing, not a failed upload.
  if (err instanceof UploadError && err.kind !== "timeout") return new NotOnFarm("dist-upload-failed", err.message);
  if (err.errorCode === "toolchain-unavailable") return new NotOnFarm("dist-toolchain-unavailable", err.message);
  if (err.kind === "timeout") return new NotOnFarm("dist-timeout", err.message);
  if (err.kind === "garbage") return new NotOnFarm("dist-bad-result", err.message);
  if (err.kind === "unreachable") return new NotOnFarm("dist-builder-unreachable", err.message);
  if (err.status === 401 || err.status === 403) return new NotOnFarm("dist-auth", err.message);
  return new NotOnFarm("dist-builder-failed", err.message);
}
