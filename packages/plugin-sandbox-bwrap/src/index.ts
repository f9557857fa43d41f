import type { ReprisePlugin } from "@reprise/core";
import { BwrapSandbox } from "./bwrap-sandbox.js";

export const PLUGIN_NAME = "@reprise/plugin-sandbox-bwrap";
export const SANDBOX_NAME = "bwrap";

/**
 * The bwrap sandbox (config `hermetic: "bwrap"`). The options given here are
 * defaults; `sandboxOptions` from config override them key by key.
 */
export function bwrapSandboxPlugin(options: Record<string, unknown> = {}): ReprisePlugin {
  return {
    name: PLUGIN_NAME,
    apply(engine) {
      engine.hooks.createSandbox.tap(PLUGIN_NAME, (settings) =>
        settings.name === SANDBOX_NAME ? new BwrapSandbox({ ...options, ...(settings.options ?? {}) }) : undefined,
      );
    },
  };
}

export default bwrapSandboxPlugin;

export { BwrapSandbox, bwrapArguments } from "./bwrap-sandbox.js";
export { parseBwrapOptions, type BwrapOptions } from "./options.js";
export { LayoutError, SandboxError } from "@reprise/core/sandbox-kit";
