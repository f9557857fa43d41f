/** Runs one job on the builder: the toolchain leased from the store, inputs from the blob store, in the sandbox. */
import { mkdirSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import pLimit from "p-limit";
import type { CompileJob, JobLimits, Sandbox } from "@reprise/core";
import { InputTreeCache } from "@reprise/core/sandbox-kit";
import type { BuilderStores } from "./stores.js";
import { HttpError } from "./http-io.js";
import type { JobResult } from "../protocol/job-result.js";
import type { OwnToolchain } from "./held-toolchains.js";
import { isDescriptorId, type ProvidedToolchains } from "./toolchain-providers.js";
import { ScratchSweeper } from "./scratch-sweeper.js";

/**
 * Folded toolchain trees kept: one per toolchain and set of input mount points
 * below a top-level directory. Each holds its toolchain's bytes alive after
 * the toolchain store evicts it, so few are kept.
 */
const MAX_TOOLCHAIN_TREES = 16;

export interface JobRunnerOptions {
  stores: BuilderStores;
  sandbox: Sandbox;
  scratchRoot: string;
  /** Where input trees are kept between jobs (beside the blob store: trees hard-link its files). */
  inputTreesDir: string;
  /** Where the toolchains' folded trees are kept (beside the toolchain store: they hard-link its files). */
  toolchainTreesDir: string;
  /** Jobs run at once; more wait in order (the scheduler gives a builder up to its maxJobs). */
  maxRunningJobs: number;
  caps: JobLimits;
  /** The builder's own toolchain a job naming an equivalence runs with (HeldToolchains.resolve). */
  ownToolchain?: (id: string) => OwnToolchain | undefined;
  /** Toolchains named by descriptor ids, provided here (rustup, declared toolchains). */
  provided?: ProvidedToolchains;
}

export class JobRunner {
  private readonly limit: ReturnType<typeof pLimit>;
  readonly inputTrees: InputTreeCache;
  readonly toolchainTrees: InputTreeCache;
  readonly scratch = new ScratchSweeper();
  completed = 0;
  failed = 0;

  constructor(private readonly o: JobRunnerOptions) {
    this.limit = pLimit(o.maxRunningJobs);
    mkdirSync(o.scratchRoot, { recursive: true, mode: 0o700 });
    this.inputTrees = new InputTreeCache(o.inputTreesDir);
    this.toolchainTrees = new InputTreeCache(o.toolchainTreesDir, MAX_TOOLCHAIN_TREES);
  }

  get running(): number {
    return this.limit.activeCount;
  }

  get queued(): number {
    return this.limit.pendingCount;
  }

  get caps(): JobLimits {
    return this.o.caps;
  }

  /** What the builder lacks for `job`, or undefined when it holds everything. */
  missing(job: CompileJob): { toolchain: boolean; blobs: string[] } | undefined {
    // A descriptor is never uploaded: the builder provides it when the job runs (or says why it cannot).
    const toolchain = isDescriptorId(job.toolchainId) ? false : !this.o.ownToolchain?.(job.toolchainId) && !this.o.stores.toolchains.has(job.toolchainId);
    const blobs = this.o.stores.missingBlobs(job.inputs.map((i) => i.hash));
    return toolchain || blobs.length ? { toolchain, blobs } : undefined;
  }

  /** Runs `job` (queued behind `maxRunningJobs` running ones); `signal` ends it when the client goes away. */
  run(asked: CompileJob, signal: AbortSignal): Promise<JobResult> {
    const queuedAt = performance.now();
    return this.limit(async () => {
      signal.throwIfAborted();
      const started = performance.now();
      let job = asked;
      const { stores, sandbox } = this.o;
      let lease: { root: string; release(): void };
      const own = this.o.ownToolchain?.(job.toolchainId);
      if (isDescriptorId(asked.toolchainId)) {
        if (!this.o.provided?.any) throw new HttpError(422, "toolchain-unavailable", `this builder provides no toolchains by descriptor (${asked.toolchainId})`, { reason: "not-offered" });
        const adapted = await this.o.provided.adapt(asked);
        job = adapted.job;
        lease = { root: adapted.root, release: adapted.release };
      } else {
        try {
          lease = own
            ? await stores.toolchains.acquire(own.id, own.archivePath)
            : await stores.toolchains.acquire(job.toolchainId, async () => {
                throw new Error("evicted");
              });
        } catch {
          throw new HttpError(409, "missing", "the toolchain is no longer held", { missing: { toolchain: true, blobs: [] } });
        }
      }
      // The builder's own compiler may live under another name (a cross gcc): the job calls it by the client's.
      if (own) job = { ...job, links: job.argv[0] === own.compilerPath ? [] : [{ path: job.argv[0]!, target: own.compilerPath }] };
      const scratchDir = mkdtempSync(join(this.o.scratchRoot, "job-"));
      try {
        const result = await sandbox.run(job, {
          toolchainRoot: lease.root,
          inputBlob: (hash) => stores.blobs.blobPath(hash),
          scratchDir,
          inputTrees: this.inputTrees,
          toolchainTrees: this.toolchainTrees,
          signal: AbortSignal.any([signal, AbortSignal.timeout(job.limits.timeoutMs + 5000)]),
        });
        if (result.killed) {
          this.failed++;
          throw new HttpError(result.killed === "timeout" ? 504 : 507, `job-${result.killed}`, `${sandbox.name} ended the job (${result.killed})`);
        }
        this.completed++;
        const runMs = performance.now() - started;
        return {
          exitCode: result.exitCode,
          stdout: result.stdout,
          stderr: result.stderr,
          outputs: result.outputs.map((o) => ({ role: o.role, path: job.outputs.find((j) => j.role === o.role)?.path ?? "", data: o.data })),
          timings: { queuedMs: Math.round(started - queuedAt), runMs: Math.round(runMs), totalMs: Math.round(performance.now() - queuedAt) },
        };
      } finally {
        lease.release();
        this.scratch.discard(scratchDir);
      }
    });
  }
}
