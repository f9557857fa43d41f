import type { ReprisePlugin } from "@reprise/core";
import { ContainerSandbox } from "./container-sandbox.js";

export const PLUGIN_NAME = "@reprise/plugin-sandbox-docker";
/** Config names this plugin serves: `hermetic: "docker"` (engine auto: docker, else podman) or `hermetic: "podman"` (engine podman). */
export const SANDBOX_NAMES = ["docker", "podman"] as const;

/**
 * The container sandbox. The options given here are defaults; `sandboxOptions`
 * from config override them key by key (see `ContainerOptions`).
 */
export function dockerSandboxPlugin(options: Record<string, unknown> = {}): ReprisePlugin {
  return {
    name: PLUGIN_NAME,
    apply(engine) {
      engine.hooks.createSandbox.tap(PLUGIN_NAME, (settings) => {
        if (!(SANDBOX_NAMES as readonly string[]).includes(settings.name)) return undefined;
        return new ContainerSandbox({ ...options, ...(settings.options ?? {}) }, settings.name);
      });
    },
  };
}

export default dockerSandboxPlugin;

export { ContainerSandbox, containerRunArguments, CONTAINER_PREFIX, JOB_LABEL } from "./container-sandbox.js";
export { findEngine, AUTO_ORDER, type ContainerEngine } from "./engine.js";
export { ToolchainImages, imageFor, TOOLCHAIN_LABEL, PROBE_TAG, type ImageEvent } from "./images.js";
export { parseContainerOptions, type ContainerOptions, type ParsedContainerOptions } from "./options.js";
export { treeTar } from "./tar.js";
export { measureContainerOverhead, median, type OverheadOptions, type OverheadMeasurement } from "./measure.js";
