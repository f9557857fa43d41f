import type { ReprisePlugin } from "../engine/plugin.js";
import type { HermeticCompiler } from "./hermetic-compiler.js";

export const HERMETIC_PLUGIN_NAME = "reprise:hermetic";

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
          const outcome = await ctx.inLocalSlot(() => hermetic.compile(sandboxName, ctx.settings.sandboxOptions, ctx.request, ctx.compiler, ctx.invocation, ctx.settings.jobLimits));
          if (outcome.ok) return outcome.run;
          ctx.logger.warn("hermetic compile not possible (%s: %s); compiling locally", outcome.reason, outcome.detail);
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
