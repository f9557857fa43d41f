import type { ReprisePlugin } from "@reprise/core";
import { ContainerSandbox } from "./container-sandbox.js";

export const PLUGIN_NAME = "@reprise/plugin-sandbox-docker";
/** Config names this plugin serves: `hermetic: "docker"` or `hermetic: "podman"` (the latter defaults `engine` to podman). */
export const SANDBOX_NAMES = ["docker", "podman"] as const;

/**
 * The container sandbox. The options given here are defaults; `sandboxOptions`
 * from config override them key by key.
 */
export function dockerSandboxPlugin(options: Record<string, unknown> = {}): ReprisePlugin {
  return {
    name: PLUGIN_NAME,
    apply(engine) {
      engine.hooks.createSandbox.tap(PLUGIN_NAME, (settings) => {
        if (settings.name === "docker") return new ContainerSandbox({ ...options, ...(settings.options ?? {}) }, "docker");
        if (settings.name === "podman") return new ContainerSandbox({ engine: "podman", ...options, ...(settings.options ?? {}) }, "podman");
        return undefined;
      });
    },
  };
}

export default dockerSandboxPlugin;

export { ContainerSandbox, containerRunArguments } from "./container-sandbox.js";
export { findEngine, type ContainerEngine } from "./engine.js";
export { ToolchainImages, imageFor } from "./images.js";
export { parseContainerOptions, type ContainerOptions } from "./options.js";
