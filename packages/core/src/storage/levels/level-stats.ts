import type { LevelStatsSnapshot } from "../cache-storage.js";

const RECENT = 1024;

type Counters = Omit<LevelStatsSnapshot, "level" | "kind" | "location" | "readOnly" | "state" | "reason" | "latencyMedianMs" | "latencyP99Ms">;

function zero(): Counters {
  return { hits: 0, misses: 0, errors: 0, corrupt: 0, skippedTooLarge: 0, writes: 0, writeBacks: 0, bytesRead: 0, bytesWritten: 0 };
}

/** Counters and recent call latencies of one level. */
export class LevelStats {
  counters: Counters = zero();
  private latencies: number[] = [];
  private next = 0;

  count(name: keyof Counters, by = 1): void {
    this.counters[name] += by;
  }

  latency(ms: number): void {
    // A ring of the recent calls: percentiles follow the backend's current behaviour.
    if (this.latencies.length < RECENT) this.latencies.push(ms);
    else this.latencies[this.next] = ms;
    this.next = (this.next + 1) % RECENT;
  }

  reset(): void {
    this.counters = zero();
    this.latencies = [];
    this.next = 0;
  }

  snapshot(): Counters & Pick<LevelStatsSnapshot, "latencyMedianMs" | "latencyP99Ms"> {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return { ...this.counters, latencyMedianMs: percentile(sorted, 0.5), latencyP99Ms: percentile(sorted, 0.99) };
  }
}

function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const v = sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return Math.round(v * 1000) / 1000;
}
