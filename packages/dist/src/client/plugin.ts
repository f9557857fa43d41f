/**
 * `@reprise/dist/client`: the build farm client as a Reprise plugin. The
 * daemon loads it when a call's settings name a scheduler (`dist.schedulerUrl`,
 * `REPRISE_DIST_SCHEDULER_URL`); it taps `compileMiss` before hermetic mode.
 */
import type { ReprisePlugin } from "@reprise/core";
import { FarmCompiler } from "./farm-compiler.js";

export const DIST_CLIENT_PLUGIN_NAME = "@reprise/dist/client";

export function distClientPlugin(): ReprisePlugin {
  return {
    name: DIST_CLIENT_PLUGIN_NAME,
    apply(engine) {
      const farm = new FarmCompiler(engine);
      engine.hooks.compileMiss.tapPromise({ name: DIST_CLIENT_PLUGIN_NAME, stage: 0 }, (ctx) => farm.compile(ctx));
    },
  };
}

export default distClientPlugin;
export { FarmCompiler } from "./farm-compiler.js";
