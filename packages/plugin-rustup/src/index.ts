/**
 * @reprise/plugin-rustup: a Rust miss travels to the farm with a toolchain
 * descriptor (release, commit, target, std digest) instead of an archive;
 * builders provide it with rustup or from toolchains they declare
 * (`@reprise/plugin-rustup/provider`). docs/rust.md#the-build-farm-and-rustup.
 */
import type { ReprisePlugin } from "@reprise/core";
import { DirectoryDigests, LinkerSetups, rustcCallOf } from "@reprise/plugin-rustc";
import type { Platform, ToolchainDescriptor } from "@reprise/core";
import { rustcData } from "@reprise/plugin-rustc";
import { describeRustcMiss, loadsProcMacros, tripleToPlatform } from "./describe.js";
import { parseDescriptorId, RUSTUP_LINUX_HOSTS } from "./descriptor.js";

export const PLUGIN_NAME = "@reprise/plugin-rustup";

export interface RustupPluginOptions {
  /**
   * Describe any rustc, not only rustup's (e.g. Debian's /usr/bin/rustc, for
   * builders that declare the same build in their config). Default false.
   */
  anyRustc?: boolean;
}

export function createRustupPlugin(options: RustupPluginOptions = {}): ReprisePlugin {
  const digests = new DirectoryDigests();
  const linkers = new LinkerSetups();
  const anyRustc = options.anyRustc === true;
  /** Descriptors of calls that load proc macros: only the client's own platform can run those. */
  const hostOnly = new WeakMap<ToolchainDescriptor, Platform[]>();
  return {
    name: PLUGIN_NAME,
    apply(engine) {
      engine.hooks.describeToolchain.tapPromise(PLUGIN_NAME, async ({ compiler, invocation }) => {
        const d = await describeRustcMiss(compiler, invocation, digests, { anyRustc, linkers });
        // Proc macros and build scripts run on the client's host, and so are built only by builders of its platform.
        if (d && (loadsProcMacros(invocation.compileArgv) || rustcCallOf(invocation)?.runsOnHost)) {
          const own = tripleToPlatform(rustcData(compiler)?.host ?? "");
          if (!own) return undefined;
          hostOnly.set(d, [own]);
        }
        return d;
      });
      // Any builder that can provide the descriptor: every host rustup ships rustc for (the scheduler matches the id),
      // or only the client's platform when the crate loads proc macros.
      engine.hooks.resolveArchitecture.tapPromise(PLUGIN_NAME, async ({ descriptor }) => {
        if (!descriptor || !parseDescriptorId(descriptor.id)) return undefined;
        return hostOnly.get(descriptor) ?? RUSTUP_LINUX_HOSTS.map((p) => ({ ...p }));
      });
    },
  };
}

export const rustupPlugin: ReprisePlugin = createRustupPlugin();
// A factory, so that `["@reprise/plugin-rustup", { "anyRustc": true }]` in config reaches it (the loader calls it with the options).
export default createRustupPlugin;

export { descriptorId, parseDescriptorId, linkCapability, toToolchainDescriptor, RUSTUP_LINUX_HOSTS, DESCRIPTOR_PREFIX, type RustDescriptor } from "./descriptor.js";
export { describeRustcMiss, isRustupToolchain, stdDigest, loadsProcMacros, tripleToPlatform } from "./describe.js";
