/**
 * Toolchains of the builder's own (config `toolchains`, docs/cross-arch.md):
 * each compiler is detected and packaged with the same plugins a client uses,
 * into the builder's toolchain store, and for each target it declares, the
 * compiler's plugin computes the equivalence value (`portableToolchain`) a
 * client computes for its own build of that compiler. A job naming that value
 * runs with the builder's toolchain; everything else about the job (sandbox,
 * inputs, limits) is as for an uploaded toolchain.
 */
import { join } from "node:path";
import { createEngine, ToolchainCache, type CompilerInfo, type Engine, type ToolchainStore } from "@reprise/core";
import type { HeldToolchain } from "../protocol/scheduler-messages.js";

export interface HeldToolchainConfig {
  /** Absolute path of the compiler, as clients call it (argv[0] matters to clang). */
  compiler: string;
  /** Target triples it takes jobs for (as clients' compilers name them, e.g. `clang -dumpmachine`). */
  targets: string[];
}

export interface OwnToolchain {
  id: string;
  archivePath: string;
  compilerPath: string;
}

interface Prepared {
  held: HeldToolchain;
  archivePath: string;
  /** Where the archive holds the compiler (a job's argv[0] is linked to it). */
  compilerPath: string;
}

export class HeldToolchains {
  private readonly byEquivalence = new Map<string, Prepared>();
  private readonly prepared: Prepared[] = [];

  private constructor() {}

  /** Packages every configured compiler; a compiler that cannot be used is an error naming it (the builder does not start). */
  static async prepare(configs: HeldToolchainConfig[], dataDir: string, store: ToolchainStore, log: (msg: string) => void): Promise<HeldToolchains> {
    const held = new HeldToolchains();
    if (configs.length === 0) return held;
    const { engine, detector } = await createEngine({ cwd: dataDir });
    const cache = new ToolchainCache(engine, { dir: join(dataDir, "own") });
    for (const config of configs) {
      const compiler = await detector.detect(config.compiler, { PATH: process.env.PATH ?? "/usr/bin:/bin" }).catch((err: Error) => {
        throw new Error(`toolchain ${config.compiler}: ${err.message}`);
      });
      if (!compiler) throw new Error(`toolchain ${config.compiler}: no plugin recognises this compiler`);
      const packaged = await cache.archive(compiler);
      await store.ensure(packaged.id, packaged.archivePath);
      const targets = [];
      for (const target of config.targets) {
        targets.push({ target, equivalence: await equivalenceOf(engine, compiler, target, config.compiler) });
      }
      const entry: Prepared = {
        held: { id: packaged.id, family: compiler.family, version: compiler.version, compilerPath: config.compiler, targets },
        archivePath: packaged.archivePath,
        compilerPath: packaged.manifest.compilerPath,
      };
      held.prepared.push(entry);
      for (const t of targets) held.byEquivalence.set(t.equivalence, entry);
      log(`holds ${compiler.family} ${compiler.version} at ${config.compiler} (toolchain ${packaged.id.slice(0, 12)}) for ${config.targets.join(", ") || "its own target only"}`);
    }
    return held;
  }

  /** What the builder reports: ids of its own toolchains' equivalences (added to `toolchains`) and their descriptions. */
  equivalenceIds(): string[] {
    return [...this.byEquivalence.keys()];
  }

  descriptions(): HeldToolchain[] {
    return this.prepared.map((p) => p.held);
  }

  /**
   * The stored toolchain a job naming `id` runs with, and the archive that
   * unpacks it again if the store evicted it; undefined for ids that are not
   * one of this builder's equivalences.
   */
  resolve(id: string): OwnToolchain | undefined {
    const p = this.byEquivalence.get(id);
    return p ? { id: p.held.id, archivePath: p.archivePath, compilerPath: p.compilerPath } : undefined;
  }
}

async function equivalenceOf(engine: Engine, compiler: CompilerInfo, target: string, path: string): Promise<string> {
  const answer = await engine.hooks.portableToolchain.promise({ compiler, target });
  if (!answer) throw new Error(`toolchain ${path}: its plugin (${compiler.family}) cannot say which clients' compilers it is equivalent to, so it cannot take jobs for ${target}`);
  return answer.equivalence;
}
