import { join } from "node:path";
import type { DescriptorQuery, KeyContext, KeyHasher, ReprisePlugin, RunnerFiles } from "@reprise/core";
import { detectRustc, rustcData } from "./detect.js";
import { parseRustcArguments, rustcCallOf } from "./parse-arguments.js";
import { DirectoryDigests } from "./sysroot-digest.js";
import { DaemonJobserver } from "./environment.js";
import { RustNativeCpuResolver } from "./native-cpu.js";
import { filesBelow, rustcToolchainPlatforms, rustcToolchainSpec } from "./toolchain.js";
import { LinkerSetups } from "./linker.js";

export const PLUGIN_NAME = "@reprise/plugin-rustc";

/**
 * The sysroot files a compile reads that are not the compiler itself: the
 * target's std crates (every compile links or reads their metadata) and,
 * when the crate type is linked, the host's `rust-lld` and friends.
 */
export async function addSysrootToKey(hasher: KeyHasher, ctx: KeyContext, digests: DirectoryDigests): Promise<void> {
  if (ctx.compiler.family !== "rustc") return;
  const call = rustcCallOf(ctx.invocation);
  if (!call) return;
  const rustlib = join(call.sysroot, "lib", "rustlib");
  hasher.add("rustc-target", call.target);
  // Through the engine's hashing: a fresh daemon finds the std rlibs' hashes in the cache directory.
  const hashFile = ctx.digestFile?.bind(ctx);
  hasher.add("rustc-target-libs", await digests.digest(join(rustlib, call.target, "lib"), hashFile));
  if (call.links) hasher.add("rustc-host-tools", await digests.digest(join(rustlib, call.host, "bin"), hashFile));
}

/**
 * What a linking call needs of this machine in a hermetic sandbox: its
 * linker's files (`inspectLinker`) and rustc's host tools (`rust-lld` and the
 * `gcc-ld` wrappers it links through), which the toolchain archive leaves out.
 */
export async function linkerRunnerFiles(query: DescriptorQuery, linkers: LinkerSetups): Promise<RunnerFiles | undefined> {
  if (query.compiler.family !== "rustc") return undefined;
  const call = rustcCallOf(query.invocation);
  const data = rustcData(query.compiler);
  if (!call?.links || !call.linker || !data) return undefined;
  const setup = await linkers.get(call.linker.name, { cwd: call.linker.cwd, pathEnv: call.linker.pathEnv }).catch(() => undefined);
  if (!setup) return undefined;
  const hostTools = filesBelow(join(data.sysroot, "lib", "rustlib", data.host, "bin"));
  // rust-lld loads the toolchain's LLVM (the archive holds it: not carried twice).
  return { programs: [...setup.programs, ...hostTools], libraries: setup.libraries, files: setup.files, libraryPath: [join(data.sysroot, "lib")] };
}

export interface RustcPluginOptions {
  /**
   * Tokens of the jobserver shared by the rustc processes the daemon runs on
   * misses, beyond each one's own (default: CPUs - 1); `false` for none.
   */
  jobserverTokens?: number | false;
}

/** Creates the plugin; each instance keeps its own memo of sysroot digests and its own jobserver. */
export function createRustcPlugin(options: RustcPluginOptions = {}): ReprisePlugin {
  const digests = new DirectoryDigests();
  const tokens = options.jobserverTokens;
  const jobserver = tokens === false ? undefined : new DaemonJobserver(tokens);
  const nativeCpu = new RustNativeCpuResolver();
  const linkers = new LinkerSetups();
  return {
    name: PLUGIN_NAME,
    apply(engine) {
      engine.hooks.detectCompiler.tapPromise(PLUGIN_NAME, (probe) => detectRustc(probe));
      engine.hooks.parseArguments.for("rustc").tap(PLUGIN_NAME, (input) => parseRustcArguments(input, { jobserver }));
      engine.hooks.packageToolchain.tapPromise(PLUGIN_NAME, async (compiler) => (compiler.family === "rustc" ? rustcToolchainSpec(compiler) : undefined));
      engine.hooks.resolveArchitecture.tapPromise(PLUGIN_NAME, async ({ toolchain }) => (toolchain?.family === "rustc" ? rustcToolchainPlatforms(toolchain) : undefined));
      engine.hooks.runnerFiles.tapPromise(PLUGIN_NAME, (query) => linkerRunnerFiles(query, linkers));
      engine.hooks.extendKey.tapPromise(PLUGIN_NAME, async (hasher, ctx) => {
        await addSysrootToKey(hasher, ctx, digests);
        await nativeCpu.extendKey(hasher, ctx);
      });
    },
  };
}

/**
 * rustc: detection as family "rustc" (rustup proxies resolved), argument
 * parsing as cargo writes it, std and linker in the key, and jobs for crates
 * that are not linked (closure scan, toolchain archive, its platforms).
 */
export const rustcPlugin: ReprisePlugin = createRustcPlugin();

export default rustcPlugin;

export { detectRustc, parseVerboseVersion, rustcData, compilerLibraries, type RustcData } from "./detect.js";
export { parseRustcArguments, rustcCallOf, type RustcCall, type ParseOptions } from "./parse-arguments.js";
export { lexRustcArgs, expandArgFiles, type RustcArg } from "./lex.js";
export { linkOutputName, metadataName, depInfoName, objectFormat, CRATE_TYPES, LINKING_CRATE_TYPES } from "./outputs.js";
export { chooseToolchain, parseRustupSettings, parseToolchainFile, toolchainDir, type ToolchainChoice } from "./rustup.js";
export { keyEnvNames, compileEnvironment, terminalWantsColor, DaemonJobserver } from "./environment.js";
export { DirectoryDigests } from "./sysroot-digest.js";
export { RustNativeCpuResolver, usesNativeCpu } from "./native-cpu.js";
export { rustcToolchainSpec, rustcToolchainPlatforms, installedTargets } from "./toolchain.js";
export { inspectLinker, linkerScriptNames, LinkerSetups, LinkerError, type LinkerSetup } from "./linker.js";
export { rustcPathRecording, dylibCrateName, DYLIB_FILE } from "./path-recording.js";
