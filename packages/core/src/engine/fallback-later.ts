import { growingLru } from "../util/growing-lru.js";
import type { Logger } from "../util/logger.js";
import type { SeenDigests } from "./direct-mode.js";

/**
 * The preprocessed-text copy of one stored miss, computed later: `run`
 * preprocesses the call again, checks nothing it read changed, and stores
 * the entry under the text's key. `lowPriority`: nothing waits for it.
 */
export interface LaterCopy {
  label: string;
  /**
   * `previous`: the check that closed the copy made just before this one, in
   * the same idle run (see CopyChecks). Resolves to this copy's closing check
   * when it passed.
   */
  run(lowPriority: boolean, previous?: CopyChecks): Promise<CopyChecks | void>;
}

/**
 * The digests a copy's check after its preprocessing took (by path), and
 * when (performance.now()). The next copy of the same idle run, started
 * right after, checks its own entry's files against them before it
 * preprocesses instead of taking every stat again: a build's units share
 * most headers. Its check after the preprocessing takes fresh stats, so a
 * file changed since is still seen; what is given up is only the part of
 * the window between the two checks before this copy's own preprocessing.
 */
export interface CopyChecks {
  seen: SeenDigests;
  atMs: number;
}

interface Queued {
  /** Dropped once made: the sibling map keeps this record for a while, not the call it held. */
  copy?: LaterCopy;
  /** Made when the daemon is idle (`preprocessorFallbackCopies`); otherwise only when a sibling asks, and dropped once idle. */
  idle: boolean;
  running?: Promise<CopyChecks | void>;
}

/** How long no call may be in flight before queued copies are made (longer than the serial steps of a build: archiving, linking). */
const IDLE_MS = 2000;
/** Most copies waiting: past it the oldest are dropped (their entries only miss the fallback). */
const MAX_QUEUED = 10_000;
/**
 * How long copies kept for siblings only stay after the last call: longer
 * than the gaps of one build (a link, a slow compile elsewhere), so a
 * sibling target compiled later in the build still finds its copy; then the
 * memory they hold (each keeps its call and manifest entry) is freed.
 */
const SIBLING_KEEP_MS = 60_000;
/** Most copies kept for siblings only (each holds its call's request and file list): past it the oldest are dropped. */
const MAX_SIBLING_ONLY = 2_000;

/**
 * When a direct-mode miss preprocesses its source for the fallback key.
 *
 * A cold miss has nothing the preprocessed text could find yet, so it
 * compiles at once. The copy under its text's key is made when a sibling
 * asks for it; with `preprocessorFallbackCopies`, also while the daemon is
 * idle, at low priority (a header's comment edit is served by text digests
 * without it). Only a call that can use the fallback now preprocesses before compiling:
 * one whose manifest exists (something it read changed), or whose sibling —
 * the same source and arguments but for those only the preprocessor reads,
 * such as -D — was compiled in this daemon; that sibling's copy is made
 * first, so the two can share one entry.
 */
export class FallbackLater {
  private readonly queue = new Map<LaterCopy, Queued>();
  /** Cheap bookkeeping for the next build (hit-index entries of fresh misses), done before any copy. */
  private readonly chores: (() => void)[] = [];
  /** Misses by sibling key: resolves to the miss's copy once it is stored (undefined: none to make, or made already). */
  private readonly siblings = growingLru<string, Promise<Queued | undefined>>(20_000);
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private closed = false;
  private choresRun: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    /** Told how many copies wait, whenever that changes. */
    private readonly waiting: (n: number) => void = () => {},
    private readonly siblingKeepMs = SIBLING_KEEP_MS,
  ) {}

  private dropTimer: NodeJS.Timeout | undefined;

  callStarted(): void {
    this.active++;
    clearTimeout(this.timer);
    clearTimeout(this.dropTimer);
  }

  callEnded(): void {
    if (--this.active !== 0) return;
    if (this.queue.size > 0 || this.chores.length > 0) this.armIdle();
    this.armDrop();
  }

  /** Runs `chore` once the daemon is idle, before any copy; dropped past MAX_QUEUED or on close. */
  whenIdle(chore: () => void): void {
    if (this.closed || this.chores.length >= MAX_QUEUED) return;
    this.chores.push(chore);
    if (this.active === 0) this.armIdle();
  }

  /**
   * A miss of `siblingKey` starts compiling without preprocessing: `settle`
   * must be called once it was stored (with the copy to make later) or not.
   */
  register(siblingKey: string, idle: boolean): (copy: LaterCopy | undefined) => void {
    let settle!: (q: Queued | undefined) => void;
    this.siblings.set(siblingKey, new Promise((r) => (settle = r)));
    return (copy) => {
      if (!copy || this.closed) return settle(undefined);
      const queued: Queued = { copy, idle };
      this.queue.set(copy, queued);
      if (!idle && this.siblingOnly() > MAX_SIBLING_ONLY) this.dropSiblingOnly(1);
      if (this.queue.size > MAX_QUEUED) {
        const [oldest, dropped] = this.queue.entries().next().value!;
        this.queue.delete(oldest);
        if (!dropped.running) dropped.copy = undefined;
      }
      this.waiting(this.idleCopies());
      settle(queued);
      if (this.active === 0) {
        this.armIdle();
        this.armDrop();
      }
    };
  }

  /** A miss that preprocesses now: its siblings will too. */
  noteSibling(siblingKey: string): void {
    if (!this.siblings.has(siblingKey)) this.siblings.set(siblingKey, Promise.resolve(undefined));
  }

  /**
   * Whether a miss of `siblingKey` was seen: if so, waits until its entry is
   * stored and its copy made (a call about to preprocess its sibling's text
   * can then hit it).
   */
  async sibling(siblingKey: string): Promise<boolean> {
    const pending = this.siblings.get(siblingKey);
    if (!pending) return false;
    const queued = await pending;
    if (queued) await this.runNow(queued, false);
    return true;
  }

  /**
   * Forgets every miss seen and every copy waiting: the cache was cleared, so
   * the entries they stand for are gone, and a call compiled again after
   * that is a cold miss (preprocessing it first for its sibling, itself as
   * built before, would only cost a pass).
   */
  forget(): void {
    this.siblings.clear();
    for (const q of this.queue.values()) if (!q.running) q.copy = undefined;
    this.queue.clear();
    this.waiting(0);
  }

  /** Makes no more copies; resolves when the one being made is done (before shutdown: nothing writes into the cache after). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.dropTimer);
    this.queue.clear();
    this.chores.length = 0;
    this.waiting(0);
    while (this.current) await this.current;
  }

  private runNow(queued: Queued, lowPriority: boolean, previous?: CopyChecks): Promise<CopyChecks | void> {
    const copy = queued.copy;
    if (!copy) return queued.running ?? Promise.resolve();
    queued.running ??= copy
      .run(lowPriority, previous)
      .catch((err: unknown) => this.logger.debug("fallback copy of %s not made: %s", copy.label, (err as Error).message))
      .finally(() => {
        // Counted as waiting until made: a caller seeing none waiting sees every copy.
        this.queue.delete(copy);
        queued.copy = undefined;
        this.waiting(this.idleCopies());
      });
    return queued.running;
  }

  /** Runs the queued chores (one run at a time: a second caller waits for the same run). */
  private doChores(): Promise<void> {
    if (!this.choresRun) {
      const run = this.runChores();
      this.choresRun = run;
      // Cleared once settled (asynchronously: a run with nothing to do settles before the assignment above).
      void run.finally(() => {
        if (this.choresRun === run) this.choresRun = undefined;
      });
    }
    return this.choresRun;
  }

  private async runChores(): Promise<void> {
    while (this.active === 0 && !this.closed) {
      const chore = this.chores.shift();
      if (!chore) break;
      try {
        chore();
      } catch (err) {
        this.logger.debug("idle chore failed: %s", (err as Error).message);
      }
      // Yield between chores: a call arriving now is served first.
      await new Promise((r) => setImmediate(r));
    }
  }

  /** The oldest copy to make while idle, not being made (one a waiting sibling runs stays queued until made). */
  private firstWaiting(): Queued | undefined {
    for (const q of this.queue.values()) if (!q.running && q.idle) return q;
    return undefined;
  }

  /** Copies waiting for the daemon to be idle (those kept for siblings only are not counted). */
  private idleCopies(): number {
    let n = 0;
    for (const q of this.queue.values()) if (q.idle) n++;
    return n;
  }

  /** Copies kept for siblings only (not counted as waiting: no idle time makes them). */
  siblingOnly(): number {
    return this.queue.size - this.idleCopies();
  }

  /** Drops the oldest `limit` copies kept for siblings only (all by default): the build that could ask for them is over. */
  private dropSiblingOnly(limit = Infinity): void {
    let dropped = 0;
    for (const [copy, q] of this.queue) {
      if (dropped >= limit) break;
      if (q.idle || q.running) continue;
      this.queue.delete(copy);
      q.copy = undefined;
      dropped++;
    }
  }

  private armDrop(): void {
    clearTimeout(this.dropTimer);
    if (this.closed || this.siblingOnly() === 0) return;
    this.dropTimer = setTimeout(() => {
      if (this.active === 0) this.dropSiblingOnly();
    }, this.siblingKeepMs);
    this.dropTimer.unref();
  }

  private armIdle(): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => void this.drain(), IDLE_MS);
    this.timer.unref();
  }

  /** Does the chores, then makes queued copies one by one, while no call is in flight. */
  private async drain(): Promise<void> {
    // Chores never wait behind a copy being made: at nice 19 on a busy machine one can take many seconds.
    await this.doChores();
    if (this.current) return;
    const work = (async () => {
      // Carried only from one copy to the next made right after it (CopyChecks).
      let previous: CopyChecks | undefined;
      while (this.active === 0 && !this.closed) {
        if (this.chores.length > 0) {
          previous = undefined;
          await this.doChores();
          // A call that arrived meanwhile leaves the rest for the next idle moment.
          if (this.active > 0) break;
          continue;
        }
        const next = this.firstWaiting();
        if (!next) break;
        previous = (await this.runNow(next, true, previous)) || undefined;
      }
    })();
    this.current = work;
    try {
      await work;
    } finally {
      this.current = undefined;
    }
  }
}
