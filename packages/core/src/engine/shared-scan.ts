import type pLimit from "p-limit";
import type { CompilerRun } from "./run-compiler.js";

/**
 * A miss's dependency scan (`dependencies.scanArgv`, e.g. for gcc's `-MMD`),
 * run at most once per call: a `compileMiss` tap that needs the list before
 * the compile (a job's closure) and the engine, which needs it after, share
 * one run instead of preprocessing the source twice.
 */
export class SharedScan {
  private run: Promise<CompilerRun> | undefined;

  constructor(
    private readonly start: () => Promise<CompilerRun>,
    private readonly limit: ReturnType<typeof pLimit>,
  ) {}

  /** Whether it has run or is running. */
  get started(): boolean {
    return this.run !== undefined;
  }

  /** Runs it now unless it ran or runs: a tap's job waits on it, so it does not queue behind the local compile slots. */
  now(): Promise<CompilerRun> {
    return (this.run ??= this.start());
  }

  /** Runs it in a local compile slot, as the engine's own scan does, unless it ran or runs already (then no slot is held). */
  async inSlot(): Promise<CompilerRun> {
    if (!this.run) await this.limit(() => this.run ?? (this.run = this.start()));
    return this.run!;
  }
}
