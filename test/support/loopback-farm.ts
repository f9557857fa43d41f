import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { RepriseSandbox } from "./reprise-env.js";
import { startBuilder, startScheduler, type BuilderOptions, type FarmProcess, type SchedulerHandle } from "./farm-processes.js";
import { farmClientEnv, listedBuilders, waitForListedBuilders, type ListedBuilder } from "./farm-client.js";

/** A builder of the farm: its id, and what its config sets beyond the scheduler's URL and token. */
export type BuilderSpec = { id: string } & Partial<Omit<BuilderOptions, "schedulerUrl" | "token" | "builderId">>;

/**
 * A build farm on loopback for one test file, every part a real process: the
 * scheduler with fresh tokens, builders (bwrap unless told otherwise) and a
 * client sandbox (its own daemon, cache and runtime dir). Builders keep their
 * data under `dir`, inside the sandbox's root.
 */
export class LoopbackFarm {
  /** Every builder started, in order (killed ones included). */
  readonly builders: FarmProcess[] = [];

  private constructor(
    readonly sb: RepriseSandbox,
    readonly sched: SchedulerHandle,
    readonly dir: string,
  ) {}

  /**
   * Starts the client sandbox (with `clientEnv`), the scheduler and `builders`, and waits until the scheduler lists
   * them all. `dirName` names the folder of the farm's files in the sandbox's root;
   * `schedulerConfig` adds scheduler config keys. On failure, what started is stopped.
   */
  static async start(o: { clientEnv?: Record<string, string>; builders?: BuilderSpec[]; dirName?: string; schedulerConfig?: Record<string, unknown> } = {}): Promise<LoopbackFarm> {
    const sb = new RepriseSandbox(o.clientEnv);
    const dir = join(sb.root, o.dirName ?? "farm");
    mkdirSync(dir, { recursive: true });
    let sched: SchedulerHandle | undefined;
    let farm: LoopbackFarm | undefined;
    try {
      sched = await startScheduler(o.schedulerConfig);
      farm = new LoopbackFarm(sb, sched, dir);
      const specs = o.builders ?? [];
      // In the order given, whichever starts first: tests name builders by index.
      const started = await Promise.allSettled(specs.map((b) => startBuilder(farm!.builderOptions(b))));
      for (const b of started) if (b.status === "fulfilled") farm.builders.push(b.value);
      const failed = started.find((b) => b.status === "rejected");
      if (failed) throw failed.reason;
      if (specs.length) await farm.waitForBuilders(specs.length);
      return farm;
    } catch (err) {
      if (farm) await farm.dispose();
      else {
        await sb.dispose();
        await sched?.kill();
      }
      throw err;
    }
  }

  /** The options `startBuilder` gives `spec`: this farm's scheduler and builder token, data in `dir`/builders/<id>. */
  builderOptions(spec: BuilderSpec): BuilderOptions {
    const { id, ...rest } = spec;
    return { schedulerUrl: this.sched.url, token: this.sched.builderToken, builderId: id, dataDir: join(this.dir, "builders", id), ...rest };
  }

  /** Starts a builder (`reprise-dist builder`) for this farm; it is stopped with the farm. */
  async startBuilder(spec: BuilderSpec): Promise<FarmProcess> {
    const b = await startBuilder(this.builderOptions(spec));
    this.builders.push(b);
    return b;
  }

  /** The client environment sending every miss to this farm, `more` over it. */
  env(more: Record<string, string> = {}): Record<string, string> {
    return farmClientEnv(this.sched, more);
  }

  /** The builders the scheduler lists now. */
  listed(): Promise<ListedBuilder[]> {
    return listedBuilders(this.sched);
  }

  /** Waits (bounded) until the scheduler lists exactly `n` builders; else fails with the last builder's output. */
  waitForBuilders(n: number): Promise<void> {
    return waitForListedBuilders(this.sched, n, () => this.builders.at(-1)?.output().slice(-3000) ?? "");
  }

  /** Stops every builder and the scheduler, then the client's daemon, removing the sandbox's root (builders' data too). */
  async dispose(): Promise<void> {
    // Builders first: none may still write into its data dir while the root goes.
    await Promise.all(this.builders.map((b) => b.kill()));
    await this.sched.kill();
    await this.sb.dispose();
  }
}
