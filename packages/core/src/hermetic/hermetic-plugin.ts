import type { ReprisePlugin } from "../engine/plugin.js";
import type { HermeticCompiler } from "./hermetic-compiler.js";

export const HERMETIC_PLUGIN_NAME = "reprise:hermetic";

/** Reasons a call is never a job, whatever the machine's state: still counted in stats. */
const EXPECTED_LOCAL = new Set(["hermetic-links", "hermetic-bundles", "hermetic-no-closure", "hermetic-loads-code"]);

/**
 * Hermetic mode as a `compileMiss` tap: when a call's settings name a sandbox
 * (`hermetic`), its miss is compiled there, in a local slot; when that is not
 * possible the reason is counted and the next tap (or a local compile) takes it.
 * Tapped at stage 100, so a farm client (stage 0) is asked first.
 */
export function hermeticPlugin(hermetic: HermeticCompiler): ReprisePlugin {
  return {
    name: HERMETIC_PLUGIN_NAME,
    apply(engine) {
      engine.hooks.compileMiss.tapPromise({ name: HERMETIC_PLUGIN_NAME, stage: 100 }, async (ctx) => {
        const sandboxName = ctx.settings.hermetic;
        if (!sandboxName) return undefined;
        try {
          const closure = {
            ...(ctx.preprocessDeps !== undefined ? { preprocessDeps: ctx.preprocessDeps } : {}),
            ...(ctx.dependencyScan ? { dependencyScan: ctx.dependencyScan } : {}),
            ...(ctx.fileHashes ? { tokens: ctx.fileHashes.tokens } : {}),
          };
          const outcome = await ctx.inLocalSlot(() => hermetic.compile(sandboxName, ctx.settings.sandboxOptions, ctx.request, ctx.compiler, ctx.invocation, ctx.settings.jobLimits, closure));
          if (outcome.ok) return outcome.run;
          // Calls that are local by design (a linking crate, a compiler that loads code) are no news: debug only.
          const log = EXPECTED_LOCAL.has(outcome.reason) ? ctx.logger.debug : ctx.logger.warn;
          log.call(ctx.logger, "hermetic compile not possible (%s: %s); compiling locally", outcome.reason, outcome.detail);
          ctx.stats.fallback(outcome.reason);
        } catch (err) {
          ctx.logger.error("hermetic compile failed; compiling locally: %s", (err as Error).stack ?? err);
          ctx.stats.fallback("hermetic-error");
        }
        return undefined;
      });
    },
  };
}
