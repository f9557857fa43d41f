import type { CallOutcome } from "./hooks.js";
import type { CompileRequest, CompilerInfo } from "./types.js";
import type { Call, CallResult } from "./call.js";
import type { Project } from "../daemon/project-engines.js";
import type { PluginOutcome, Stats } from "../stats/stats.js";
import type { Logger } from "../util/logger.js";
import { callLogger } from "../explain/call-log.js";

const PLUGIN_OUTCOME: Record<CallOutcome["result"], PluginOutcome> = {
  "hit-direct": "hits",
  "hit-preprocessor": "hits",
  miss: "misses",
  "not-cacheable": "notCacheable",
  "compile-failed": "compileFailures",
  error: "errors",
};

/** How calls end: counted in stats, logged, and told to the `callFinished` taps of the call's own project. */
export class CallOutcomes {
  constructor(
    private readonly stats: Stats,
    private readonly logger: Logger,
  ) {}

  /** A call Reprise does not cache: the client runs the compiler itself. */
  async local(compiler: string, reason: string, started: number, request: CompileRequest, info?: CompilerInfo, project?: Project): Promise<CallResult> {
    this.stats.notCacheable(reason);
    const log = callLogger(request.env, this.logger);
    if (log.enabled("debug")) log.debug("not cached (%s): %s (cwd %s, %s ms)", reason, request.argv.join(" "), request.cwd, (performance.now() - started).toFixed(1));
    if (project) await this.emit(project, { request, compiler: info, result: "not-cacheable", reason, exitCode: 0, durationMs: performance.now() - started });
    return { kind: "run-locally", compiler, reason };
  }

  finished(call: Call, result: CallOutcome["result"], exitCode: number, durationMs: number): Promise<void> {
    if (call.log.enabled("debug")) call.log.debug("%s: %s, exit %d, %s ms", call.inv.sourceFile, result, exitCode, durationMs.toFixed(1));
    return this.emit(call.project, { request: call.request, compiler: call.compiler, invocation: call.inv, result, exitCode, durationMs });
  }

  /** Tells the plugins of the call's own project, and only those, how the call ended. */
  private async emit(project: Project, outcome: CallOutcome): Promise<void> {
    const plugin = outcome.compiler?.plugin;
    if (plugin) this.stats.plugin(plugin, PLUGIN_OUTCOME[outcome.result]);
    if (!project.engine.hooks.callFinished.isUsed()) return;
    try {
      await project.engine.hooks.callFinished.promise(outcome);
    } catch (err) {
      this.logger.warn("a callFinished plugin failed: %s", (err as Error).message);
    }
  }
}
