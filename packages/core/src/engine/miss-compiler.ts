import type pLimit from "p-limit";
import type { Engine } from "./engine.js";
import type { MissCompileResult, MissContext } from "./hooks.js";
import type { CompileInvocation, CompileRequest, CompilerInfo } from "./types.js";
import { runCompiler, type CompilerRun } from "./run-compiler.js";
import type { Settings } from "../config/schema.js";
import type { Stats } from "../stats/stats.js";
import type { Logger } from "../util/logger.js";

export interface MissToCompile {
  request: CompileRequest;
  compiler: CompilerInfo;
  invocation: CompileInvocation;
  settings: Settings;
  /** This call's preprocessing dependency file, when the lookup ran it (MissContext.preprocessDeps). */
  preprocessDeps?: string;
  /** This call's dependency scan, shared with the engine (MissContext.dependencyScan). */
  dependencyScan?: () => Promise<string | undefined>;
  /** The daemon's file-hash cache and the tokens this call's files are hashed with (MissContext.fileHashes). */
  fileHashes?: MissContext["fileHashes"];
  /** MissContext.closureHoldsHere. */
  closureHoldsHere?: MissContext["closureHoldsHere"];
  /** MissContext.predictReads. */
  predictReads?: MissContext["predictReads"];
  /** The call's own logger (debug lines when the call asked for them with REPRISE_LOG). */
  log?: Logger;
}

/** A miss's compile; `inputs`, `outputs` and `depFile` when a tap gives them (MissCompileResult). */
export type MissRun = CompilerRun & Pick<MissCompileResult, "inputs" | "outputs" | "depFile">;

/**
 * Where a miss is compiled: wherever a `compileMiss` tap takes it (a sandbox,
 * the farm), else a plain local run in a local slot. Only local work holds
 * one of the `maxJobs` slots, so a build at -j far above them sends the rest
 * to the farm. A slot a tap was told is free stays that call's until its
 * local compile takes it: a burst of misses must not all see the same one.
 */
export class MissCompiler {
  /** Local slots promised by `localSlotFree()` whose local compile has not started yet. */
  private claimedSlots = 0;

  constructor(
    private readonly limit: ReturnType<typeof pLimit>,
    private readonly stats: Stats,
    private readonly logger: Logger,
  ) {}

  async compile(engine: Engine, miss: MissToCompile): Promise<MissRun> {
    const { request, invocation: inv } = miss;
    const limit = this.limit;
    let claimed = false;
    const release = () => {
      if (claimed) this.claimedSlots--;
      claimed = false;
    };
    try {
      const hook = engine.hooks.compileMiss;
      if (hook.isUsed()) {
        const context: MissContext = {
          ...miss,
          localSlotFree: () => {
            if (claimed) return true;
            if (limit.activeCount + limit.pendingCount + this.claimedSlots >= limit.concurrency) return false;
            claimed = true;
            this.claimedSlots++;
            return true;
          },
          inLocalSlot: (work) => {
            const queued = limit(work);
            release();
            return queued;
          },
          stats: {
            fallback: (reason) => this.stats.fallback(reason),
            remoteCompile: (executor, detail) => this.stats.remoteCompile(executor, detail),
            speculation: (outcome, from) => this.stats.speculation(outcome, from),
          },
          logger: this.logger,
        };
        try {
          const taken = await hook.promise(context);
          if (taken) {
            miss.log?.debug("%s: compiled by a compileMiss plugin (sandbox or farm)", inv.sourceFile);
            return taken;
          }
        } catch (err) {
          this.logger.error("a compileMiss plugin failed; compiling locally: %s", (err as Error).stack ?? err);
          this.stats.fallback("compile-miss-plugin-error");
        }
      }
      miss.log?.debug("%s: compiling locally", inv.sourceFile);
      const env = inv.compileEnv ?? request.env;
      const listEnv = inv.dependencies.listEnv;
      const queued = limit(() => runCompiler(inv.compileArgv, request.cwd, listEnv ? { ...env, ...listEnv } : env));
      release();
      return await queued;
    } finally {
      release();
    }
  }
}
