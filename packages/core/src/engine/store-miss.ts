import { lstatSync, readFileSync } from "node:fs";
import { removeFile } from "../util/remove-file.js";
import type pLimit from "p-limit";
import type { Call, CallResult } from "./call.js";
import type { CallOutcomes } from "./call-outcomes.js";
import type { HitServer } from "./serve-hit.js";
import { MissCompiler, type MissRun } from "./miss-compiler.js";
import { adaptsToItself, outputAdapter } from "./adapt-outputs.js";
import { storeFallbackCopy } from "./preprocessor-fallback.js";
import { listedByCompile, type ListedReads } from "./listed-dependencies.js";
import type { ClosureCheckInput, ReadIdentity } from "./hooks.js";
import type { ModeDeps } from "./mode-deps.js";
import { closureHoldsHere } from "./direct-absent.js";
import { predictReads } from "./predict-reads.js";
import { runCompiler, type CompilerRun } from "./run-compiler.js";
import { givenOutputs, readOutputs } from "./read-outputs.js";
import { copyLargestOutput, type CopiedOutput } from "./copy-outputs.js";
import { crc32OfFile, leadEntryCrc, leadEntryTail } from "../storage/lead-entry.js";
import { SharedScan } from "./shared-scan.js";
import type { FileHashCache } from "../hashing/file-hash-cache.js";
import type { ManifestEntry } from "../storage/codec.js";
import { encodeEntry, rekeyEntry, type CacheEntry } from "../storage/codec.js";
import type { Stats } from "../stats/stats.js";
import type { Logger } from "../util/logger.js";
import type { DepFileContents } from "./dep-file.js";
import { recordCall } from "../explain/record-call.js";

/** What a miss stores once its compile succeeded: the entry's key, a second key for the fallback copy, and work after the write. */
export interface StorePlan {
  resultKey: string;
  alsoUnder?: string;
  /** The outputs and streams as stored (baseDirs relocation); as they were written when absent. */
  stored?: <T extends Pick<CacheEntry, "outputs" | "stdout" | "stderr">>(parts: T) => T;
  after?: () => Promise<void>;
}

/** A successful compile's outputs and what it read, taken before the answer. */
interface Captured {
  outputs: CacheEntry["outputs"];
  depText: string | undefined;
  /** `depText` parsed, when a tap handed it over so (MissCompileResult.depFile). */
  depContents?: DepFileContents;
  identities: ReadonlyMap<string, ReadIdentity> | undefined;
  /** The list came from the engine's own scan, not from the compile. */
  fromScan: boolean;
  /** The largest output, copied into the cache by the kernel (its bytes were not read). */
  copied?: { index: number; staged: CopiedOutput["staged"] };
}

/** A key this call is compiling; see `MissStore.claim`. */
export interface Claim {
  release(): void;
}

/**
 * Decides, after the answer, where a successful compile is stored (undefined: not stored); `run` has the streams a hit
 * would replay (`run.inputs`: digests a `compileMiss` tap took of what the compile read); `identities`, by path, what the compile itself saw of the files it read (`CompileReads`).
 */
export type PlanStore = (
  depText: string | undefined,
  compileStart: number,
  outputs: CacheEntry["outputs"],
  run: MissRun,
  identities: ReadonlyMap<string, ReadIdentity> | undefined,
  /** `depText` parsed against the request's directory, when a tap handed it over so. */
  depContents?: DepFileContents,
) => Promise<StorePlan | undefined>;

function readFileOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Whether a hit may replace `path` by rename: never over a device, a directory or a FIFO. */
export function isRegularOrAbsent(path: string): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return !st || st.isFile();
}

/**
 * Compiles a miss, answers the client as soon as the compiler is done, and
 * stores the result after the answer. Stores still running are kept by the
 * key a later lookup would use, so that lookup waits for them.
 */
export class MissStore {
  /** Stores still running after their call was answered, by the key a later lookup would use. */
  private readonly storing = new Map<string, Promise<void>>();
  private readonly background = new Set<Promise<void>>();
  private readonly misses: MissCompiler;

  constructor(
    private readonly limit: ReturnType<typeof pLimit>,
    private readonly hashes: FileHashCache,
    private readonly stats: Stats,
    private readonly logger: Logger,
    private readonly outcomes: CallOutcomes,
    private readonly hits: HitServer,
    /** The include searches and directory listings direct mode's guards use, for a tap's check of a speculative job. */
    private readonly absent: Pick<ModeDeps, "searches" | "listings">,
  ) {
    this.misses = new MissCompiler(limit, stats, logger);
  }

  /** The store running under `key`, if any (a lookup of `key` waits for it). */
  pending(key: string): Promise<void> | undefined {
    return this.storing.get(key);
  }

  /**
   * Compiles and answers the client as soon as the compiler is done. When the
   * compile succeeded, its outputs and dependency file are read before the
   * answer (the build may move or rewrite them right after), and the rest —
   * hashing what the compile read, `plan`'s key, compressing and writing the
   * entry — runs after it, under `pendingKey`, which later lookups of the
   * same key wait for. `skipScan`: the caller already knows every file the
   * compile reads, so neither `dependencies.scanArgv` nor `listFile` is used. `preprocessDeps`:
   * the dependency file of the lookup's own preprocessing, for a job builder. `digestTokens`: the
   * tokens the store looks for in the files the compile read (a job builder hashes with them too).
   * `copyLargest`: the plan neither relocates outputs nor reads their bytes, so the largest may be
   * copied into the storage by the kernel instead of read (copy-outputs.ts).
   */
  async compileAndStore(
    call: Call,
    pendingKey: string | undefined,
    plan: PlanStore,
    options: { skipScan?: boolean; claim?: Claim; preprocessDeps?: string; digestTokens?: readonly string[]; copyLargest?: boolean } = {},
  ): Promise<CallResult> {
    try {
      const result = await this.compileThenStore(call, pendingKey, plan, options.skipScan === true, options.preprocessDeps, options.digestTokens, options.copyLargest === true);
      const storing = pendingKey ? this.storing.get(pendingKey) : undefined;
      if (options.claim) void (storing ?? Promise.resolve()).finally(options.claim.release);
      return result;
    } catch (err) {
      options.claim?.release();
      throw err;
    }
  }

  /**
   * Marks `key` as being compiled by this call until `release()`: later
   * lookups of `key` wait (see `pending`). Undefined when another call holds
   * it already. Every claim must be released, also on errors.
   */
  claim(key: string): Claim | undefined {
    if (this.storing.has(key)) return undefined;
    let release!: () => void;
    const held: Promise<void> = new Promise<void>((resolve) => (release = resolve)).finally(() => {
      if (this.storing.get(key) === held) this.storing.delete(key);
    });
    this.storing.set(key, held);
    return { release };
  }

  private async compileThenStore(
    call: Call,
    pendingKey: string | undefined,
    plan: PlanStore,
    skipScan: boolean,
    preprocessDeps: string | undefined,
    digestTokens: readonly string[] | undefined,
    copyLargest: boolean,
  ): Promise<CallResult> {
    const { inv, request } = call;
    const compileStart = Date.now();
    const deps = inv.dependencies;
    let captured: Captured | undefined;
    let run: MissRun;
    // The compile may list what it read itself (`listFile`): then the scan only runs when that list cannot tell.
    const fromCompile = !skipScan && deps.listFile !== undefined && call.project.engine.hooks.listDependencies.get(call.compiler.family) !== undefined;
    // One run for the engine and a tap that needs the list before compiling (a farm job's closure).
    const shared = deps.scanArgv && !skipScan ? new SharedScan(() => runCompiler(deps.scanArgv!, request.cwd, inv.compileEnv ?? request.env), this.limit) : undefined;
    const scan = shared ? () => shared.inSlot() : undefined;
    try {
      const [compiled] = await Promise.all([this.compile(call, preprocessDeps, shared, digestTokens), scan && !fromCompile ? scan() : undefined]);
      run = compiled;
      call.log.debug("%s: compiler exited %d after %s ms", inv.sourceFile, run.exitCode, run.durationMs.toFixed(1));
      if (run.exitCode !== 0) {
        this.stats.compileFailed();
        await this.outcomes.finished(call, "compile-failed", run.exitCode, performance.now() - call.started);
        return { kind: "done", exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr };
      }
      let reads: ListedReads | undefined;
      if (fromCompile) {
        reads = this.listedByCompile(call);
        if (reads?.depText === undefined && scan) {
          call.log.debug("%s: the compile did not list every file it read; scanning", inv.sourceFile);
          await scan();
        }
      }
      if (reads?.depText !== undefined) this.stats.dependencyList("fromCompile");
      else if (scan) this.stats.dependencyList("scans");
      captured = this.capture(call, reads, run, copyLargest);
    } finally {
      const temps = [deps.depFileIsTemporary ? deps.depFile : undefined, deps.scanDepFile, deps.listFile].filter((p): p is string => !!p);
      for (const p of temps) removeFile(p);
    }
    const overhead = performance.now() - call.started - run.durationMs;
    this.stats.miss(inv.language, overhead);
    const result: CallResult = { kind: "done", exitCode: 0, stdout: run.stdout, stderr: run.stderr };
    const durationMs = performance.now() - call.started;
    const outputs = captured?.outputs;
    // A tap's digests go with the list its job was made from, or with what the compile itself listed (MissCompileResult.inputs).
    const listedByScan = captured?.fromScan === true;
    if (run.inputs && listedByScan && run.inputs.listedBy !== "dependency-scan") run = { ...run, inputs: undefined };
    const storeLater = async () => {
      try {
        const stored = outputs ? await plan(captured!.depText, compileStart, outputs, run, captured!.identities, captured!.depContents) : undefined;
        if (stored && outputs) await this.store(call, stored, outputs, run, captured!.copied);
      } catch (err) {
        this.logger.error("could not store result: %s", (err as Error).stack ?? err);
        this.stats.error("store-failed");
      } finally {
        captured?.copied?.staged.discard();
      }
      await this.outcomes.finished(call, "miss", 0, durationMs);
    };
    this.later(pendingKey, storeLater);
    return result;
  }

  /** What the compile listed it read (`listDependencies`); undefined when the scan must tell, also when the plugin failed. */
  private listedByCompile(call: Call): ListedReads | undefined {
    try {
      return listedByCompile(call.project.engine, call.compiler.family, call.inv, call.request.cwd) ?? undefined;
    } catch (err) {
      this.logger.error("%s; scanning instead", (err as Error).message);
      this.stats.error("list-dependencies-plugin-error");
      return undefined;
    }
  }

  /** Resolves once every store started so far has finished (for stats and shutdown). */
  async settle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Records what the stored entry's key was made of, for `--explain` (after the answer; a failure only loses the explanation). */
  async record(call: Call, mode: "direct" | "preprocessor", sourceHash: string | undefined, direct?: { manifestKey: string; entry: ManifestEntry }): Promise<void> {
    await recordCall(this.hashes, call.settings.dir, call.request, call.compiler.path, call.compiler, call.inv, mode, sourceHash, direct).catch((err: unknown) =>
      this.logger.debug("could not record the key description of %s: %s", call.inv.sourceFile, (err as Error).message),
    );
  }

  /**
   * The compile's outputs and dependency file, read at once; undefined (not
   * cached) when a required output is missing.
   */
  private capture(call: Call, reads: ListedReads | undefined, run: MissRun, copyLargest: boolean): Captured | undefined {
    const given = run.outputs && givenOutputs(call.inv.outputs, run.outputs);
    // Outputs a tap gave are in memory already: nothing to copy.
    const copy = copyLargest && !given ? copyLargestOutput(call.storage, call.inv.outputs) : undefined;
    const read = given || readOutputs(call.inv.outputs, run.stdout, run.stderr, copy?.spec);
    if ("missing" in read) {
      copy?.staged.discard();
      this.logger.warn("compile did not write %s (%s); not caching", read.missing.path, read.missing.role);
      return undefined;
    }
    const { outputs, paths } = read;
    const copiedAt = copy ? paths.indexOf(copy.spec.path) : -1;
    // The copied output's bytes were not read: a later digest of it reads the file.
    outputs.forEach((o, i) => i !== copiedAt && this.hashes.rememberWritten(paths[i]!, o.data));
    const deps = call.inv.dependencies;
    const depPath = deps.none ? undefined : (deps.scanDepFile ?? deps.depFile);
    // A tap that holds the dependency file it wrote hands it over, parsed: not read back nor parsed again.
    const handed = reads?.depText === undefined && depPath !== undefined && depPath === deps.depFile ? run.depFile : undefined;
    const depText = reads?.depText ?? handed?.text ?? (depPath ? readFileOrUndefined(depPath)?.toString("utf8") : undefined);
    return {
      outputs,
      depText,
      ...(handed ? { depContents: handed.contents } : {}),
      identities: reads?.identities,
      fromScan: reads?.depText === undefined && deps.scanDepFile !== undefined,
      ...(copy ? { copied: { index: copiedAt, staged: copy.staged } } : {}),
    };
  }

  /** Runs `work` after the answer; lookups of `key` wait for it, and `settle()` for all. */
  later(key: string | undefined, work: () => Promise<void>): void {
    const done: Promise<void> = work()
      .catch((err: unknown) => this.logger.error("background store failed: %s", (err as Error).stack ?? err))
      .finally(() => {
        this.background.delete(done);
        if (key && this.storing.get(key) === done) this.storing.delete(key);
      });
    this.background.add(done);
    if (key) this.storing.set(key, done);
  }

  /** The real compile of a miss: wherever a `compileMiss` tap takes it, else locally (see MissCompiler). */
  private async compile(call: Call, preprocessDeps: string | undefined, scan: SharedScan | undefined, digestTokens: readonly string[] = []): Promise<MissRun> {
    await call.project.prepareMiss?.(call.settings);
    const miss = {
      request: call.request,
      compiler: call.compiler,
      invocation: call.inv,
      settings: call.settings,
      log: call.log,
      ...(preprocessDeps === undefined ? {} : { preprocessDeps }),
      ...(scan ? { dependencyScan: () => this.scanForTap(call, scan) } : {}),
      fileHashes: { cache: this.hashes, tokens: digestTokens },
      closureHoldsHere: (check: ClosureCheckInput) => closureHoldsHere(this.absent, call, check),
      predictReads: () => predictReads(this.absent, call),
    };
    return this.misses.compile(call.project.engine, miss);
  }

  /** The call's dependency scan for a `compileMiss` tap (MissContext.dependencyScan): its list, or undefined when it failed. */
  private async scanForTap(call: Call, scan: SharedScan): Promise<string | undefined> {
    const depFile = call.inv.dependencies.scanDepFile;
    const first = !scan.started;
    const run = await scan.now();
    if (first) this.stats.dependencyList("sharedWithJob");
    return run.exitCode === 0 && depFile ? readFileOrUndefined(depFile)?.toString("utf8") : undefined;
  }

  /** Writes `entry` under `resultKey` to every writable level, and keeps it in memory; returns the blob written. */
  async writeEntry(call: Call, resultKey: string, entry: CacheEntry): Promise<Buffer> {
    const blob = await encodeEntry(entry, resultKey);
    await call.storage.write("result", resultKey, blob);
    this.hits.remember(call.storage, resultKey, entry);
    return blob;
  }

  private async store(call: Call, plan: StorePlan, outputs: CacheEntry["outputs"], run: CompilerRun, copied: Captured["copied"]): Promise<void> {
    if (!adaptsToItself(outputAdapter(call.project.engine, call.compiler, call.inv), call.inv.outputs, outputs)) {
      this.logger.warn("the plugin cannot lay out the outputs of %s again for another call; not caching", call.inv.sourceFile);
      this.stats.error("output-not-adaptable");
      return;
    }
    const { resultKey, alsoUnder, after } = plan;
    const written: CacheEntry = { outputs, stdout: run.stdout, stderr: run.stderr, exitCode: run.exitCode, compileMs: Math.round(run.durationMs), createdAt: Date.now() };
    if (copied) {
      await this.storeCopied(call, plan, written, copied);
      if (after) await after();
      return;
    }
    const entry = plan.stored ? plan.stored(written) : written;
    const blob = await this.writeEntry(call, resultKey, entry);
    // The preprocessed text's key is not relative to a base directory: only bytes as written go there.
    const asWritten = entry.outputs.every((o, i) => o.data === written.outputs[i]!.data) && entry.stdout === written.stdout && entry.stderr === written.stderr;
    if (alsoUnder && asWritten && !entry.stdout.length && !entry.stderr.length) {
      await storeFallbackCopy(call.storage, alsoUnder, rekeyEntry(blob, resultKey, alsoUnder) ?? (await encodeEntry(entry, alsoUnder)));
    }
    if (after) await after();
  }

  /**
   * Stores an entry whose largest output the kernel copied into the storage
   * (entry format 4): its CRC is read back from that copy in small chunks,
   * the rest of the entry appended. Not kept in memory (its bytes are not
   * there: the hit index copies it once the daemon is idle, not reading it
   * again while the file is unchanged), nor copied under the fallback's key.
   */
  private async storeCopied(call: Call, plan: StorePlan, entry: CacheEntry, copied: NonNullable<Captured["copied"]>): Promise<void> {
    if (plan.stored) throw new Error("codec bug: an output copied by the kernel cannot be relocated");
    const { staged, index } = copied;
    const crc = crc32OfFile(staged.path, staged.size);
    if (crc === undefined) throw new Error(`the copy of ${entry.outputs[index]!.role} in the cache is shorter than ${staged.size} bytes`);
    const tail = leadEntryTail(entry, index, staged.size, crc, plan.resultKey);
    await staged.finish(plan.resultKey, tail);
    this.hits.storedByCopy(call.storage, plan.resultKey, { crc: leadEntryCrc(tail) });
    if (plan.alsoUnder) call.log.debug("%s: not copied under the preprocessed text's key (a large output stored by the kernel)", call.inv.sourceFile);
  }
}
