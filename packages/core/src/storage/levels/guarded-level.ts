import { createRequire } from "node:module";
import type CircuitBreaker from "opossum";
import type { BlobKind, CacheStorage, LevelStatsSnapshot, StorageTimeouts } from "../cache-storage.js";
import { BlobTooLargeError } from "../../util/errors.js";
import type { Logger } from "../../util/logger.js";
import { LevelStats } from "./level-stats.js";

export interface BreakerSettings {
  /** Failed share of recent calls (percent) that opens the breaker. */
  errorThresholdPercent: number;
  /** Calls in the rolling window before the breaker may open. */
  volumeThreshold: number;
  /** Milliseconds an open breaker waits before letting one call try again. */
  cooldownMs: number;
}

export interface GuardedLevelOptions {
  index: number;
  readOnly: boolean;
  /** Remote levels get a breaker and a deadline; the local disk does not (its failures are real errors). */
  remote: boolean;
  timeouts: StorageTimeouts;
  breaker: BreakerSettings;
  logger: Logger;
}

/** What a guarded call gives back: the value, or the reason it has none. */
export type Guarded<T> = { ok: true; value: T } | { ok: false; error: Error };

/** opossum is loaded by the first remote level, not by every daemon start (the local disk has no breaker). */
function loadCircuitBreaker(): typeof CircuitBreaker {
  return createRequire(import.meta.url)("opossum") as typeof CircuitBreaker;
}

/**
 * One cache level: a backend behind a deadline and a circuit breaker, with
 * its counters. Nothing it does throws: a failure is counted, logged and
 * returned, so the level above can treat it as a miss.
 */
export class GuardedLevel {
  readonly stats = new LevelStats();
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown> | undefined;
  private lastLoggedError = 0;

  constructor(
    readonly storage: CacheStorage,
    readonly o: GuardedLevelOptions,
  ) {
    if (o.remote) {
      this.breaker = new (loadCircuitBreaker())((op: () => Promise<unknown>) => op(), {
        timeout: o.timeouts.requestMs,
        errorThresholdPercentage: o.breaker.errorThresholdPercent,
        volumeThreshold: o.breaker.volumeThreshold,
        resetTimeout: o.breaker.cooldownMs,
        rollingCountTimeout: Math.max(10_000, o.breaker.cooldownMs),
        // A refused oversized blob says nothing about the backend's health.
        errorFilter: (err: unknown) => err instanceof BlobTooLargeError,
      });
      this.breaker.on("open", () => o.logger.warn("cache level %d (%s %s) keeps failing; skipped for %d ms", o.index, storage.kind, storage.location, o.breaker.cooldownMs));
      this.breaker.on("close", () => o.logger.info("cache level %d (%s) answers again", o.index, storage.kind));
    }
  }

  get readOnly(): boolean {
    return this.o.readOnly;
  }

  get remote(): boolean {
    return this.o.remote;
  }

  async read(kind: BlobKind, key: string): Promise<Guarded<Buffer | undefined>> {
    const r = await this.call(() => this.storage.read(kind, key));
    if (r.ok) {
      if (r.value) {
        this.stats.count("hits");
        this.stats.count("bytesRead", r.value.length);
      } else {
        this.stats.count("misses");
      }
    }
    return r;
  }

  async write(kind: BlobKind, key: string, data: Buffer, why: "store" | "write-back"): Promise<Guarded<void>> {
    const r = await this.call(() => this.storage.write(kind, key, data));
    if (r.ok) {
      this.stats.count(why === "store" ? "writes" : "writeBacks");
      this.stats.count("bytesWritten", data.length);
    }
    return r;
  }

  async remove(kind: BlobKind, key: string): Promise<Guarded<void>> {
    return this.call(() => this.storage.remove(kind, key));
  }

  state(): LevelStatsSnapshot["state"] {
    if (!this.breaker) return "closed";
    return this.breaker.opened ? "open" : this.breaker.halfOpen ? "half-open" : "closed";
  }

  snapshot(): LevelStatsSnapshot {
    const { kind, location } = this.storage;
    return { level: this.o.index, kind, location, readOnly: this.o.readOnly, state: this.state(), ...this.stats.snapshot() };
  }

  /** Stops the breaker's timers; the backend itself is closed by its registry (levels may share it). */
  shutdown(): void {
    this.breaker?.shutdown();
  }

  private async call<T>(op: () => Promise<T>): Promise<Guarded<T>> {
    const started = performance.now();
    try {
      const value = this.breaker ? ((await this.breaker.fire(op)) as T) : await op();
      this.stats.latency(performance.now() - started);
      return { ok: true, value };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (error instanceof BlobTooLargeError) {
        this.stats.count("skippedTooLarge");
        this.o.logger.debug("cache level %d: %s", this.o.index, error.message);
        return { ok: false, error };
      }
      this.stats.count("errors");
      // Open-breaker rejections are the expected quiet path; real failures are logged, at most one a second.
      if ((error as { code?: string }).code !== "EOPENBREAKER" && Date.now() - this.lastLoggedError > 1000) {
        this.lastLoggedError = Date.now();
        this.o.logger.warn("cache level %d (%s %s) failed: %s", this.o.index, this.storage.kind, this.storage.location, error.message);
      }
      return { ok: false, error };
    }
  }
}
