import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../engine/engine.js";
import { CompilerDetector } from "../engine/compiler-detector.js";
import { findExecutable } from "../engine/find-executable.js";
import type { ReprisePlugin } from "../engine/plugin.js";
import type { CompilerInfo, ParseResult } from "../engine/types.js";
import { FileHashCache } from "../hashing/file-hash-cache.js";
import { loadPlugins } from "../config/load-plugins.js";
import { silentLogger } from "../util/logger.js";
import { watchProcessEnv } from "./env-watch.js";

/**
 * A plugin inside a real engine, without a daemon: detection and argument
 * parsing as the daemon does them, through the same guarded hooks, so a
 * result the engine would refuse is refused here with the same message.
 */
export class PluginHarness {
  readonly engine = new Engine(silentLogger);
  private readonly detector = new CompilerDetector(this.engine, new FileHashCache());
  private readonly tempDir = mkdtempSync(join(tmpdir(), "reprise-plugin-kit-"));
  private counter = 0;

  constructor(readonly plugin: ReprisePlugin) {
    this.engine.use(plugin);
  }

  /** Loads a plugin the way config `plugins` names it (package name or path, relative to `baseDir`), with its options. */
  static async load(spec: string, options: Record<string, unknown> | undefined, baseDir: string): Promise<PluginHarness> {
    const [plugin] = await loadPlugins([options ? [spec, options] : spec], baseDir, silentLogger);
    return new PluginHarness(plugin!);
  }

  /** What `detectCompiler` says about `compiler` (a path, or a name found on PATH). */
  async detect(compiler: string, env: Record<string, string> = process.env as Record<string, string>): Promise<CompilerInfo | undefined> {
    const path = findExecutable(compiler, { cwd: process.cwd(), pathEnv: env.PATH, exclude: new Set() });
    if (!path) throw new Error(`${compiler} not found on PATH`);
    return this.detector.detect(path, env);
  }

  /**
   * What `parseArguments.for(family)` says about a call `compiler args...`
   * made in `cwd` with `env`; `processEnvReads` lists the `process.env`
   * variables the parser read (it must read `input.env`).
   */
  parse(compiler: CompilerInfo, args: string[], cwd: string, env: Record<string, string>): { result: ParseResult | undefined; processEnvReads: string[] } {
    const hook = this.engine.hooks.parseArguments.get(compiler.family);
    if (!hook) return { result: undefined, processEnvReads: [] };
    const input = {
      argv: [compiler.path, ...args],
      cwd,
      env,
      compiler,
      stderrIsTTY: false,
      tempPath: (suffix: string) => join(this.tempDir, `${++this.counter}${suffix}`),
    };
    return watchProcessEnv(() => hook.call(input));
  }
}
