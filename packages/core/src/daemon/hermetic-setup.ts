import { join } from "node:path";
import type { SettingsLoader } from "../config/load-settings.js";
import type { Engine } from "../engine/engine.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import { HermeticCompiler, type HermeticWorkspace } from "../hermetic/hermetic-compiler.js";
import { InputStore } from "../hermetic/input-store.js";
import { ensurePrivateCacheDir } from "../storage/cache-root.js";
import { SandboxSelector } from "../sandbox/select-sandbox.js";
import type { Stats } from "../stats/stats.js";
import { ToolchainCache } from "../toolchain/toolchain-cache.js";
import type { Logger } from "../util/logger.js";

export interface HermeticSetupOptions {
  engine: Engine;
  hashes: FileHashCache;
  stats: Stats;
  settings: SettingsLoader;
  logger: Logger;
  /** Loads the first-party plugin of a sandbox name no loaded plugin serves (if installed). */
  loadSandboxPlugin?: (name: string) => Promise<void>;
}

/**
 * Hermetic mode as the daemon runs it. Each cache directory a call uses
 * (settings.dir) has its own state:
 *
 *   <dir>/toolchains/…          packaged and unpacked toolchains (ToolchainCache)
 *   <dir>/hermetic/inputs/      job inputs by content hash (InputStore)
 *   <dir>/hermetic/jobs/        one scratch directory per running job
 */
export function createHermeticCompiler(o: HermeticSetupOptions): HermeticCompiler {
  const workspaces = new Map<string, HermeticWorkspace>();
  const workspaceFor = (dir: string): HermeticWorkspace => {
    // The root is the cache's: 0700, the user's own, or not used at all (UnsafeCacheDirError).
    ensurePrivateCacheDir(dir, true, true);
    let ws = workspaces.get(dir);
    if (!ws) {
      ws = {
        toolchains: new ToolchainCache(o.engine, { dir, logger: o.logger.child("toolchains") }),
        inputs: new InputStore(join(dir, "hermetic", "inputs")),
        scratchRoot: join(dir, "hermetic", "jobs"),
      };
      workspaces.set(dir, ws);
    }
    return ws;
  };
  return new HermeticCompiler({
    engine: o.engine,
    hashes: o.hashes,
    stats: o.stats,
    logger: o.logger,
    sandboxes: new SandboxSelector(o.engine, { ...(o.loadSandboxPlugin ? { loadPlugin: o.loadSandboxPlugin } : {}) }),
    workspace: async (request) => workspaceFor((await o.settings.load(request.cwd, request.env)).dir),
  });
}
