// When a file's stat can vouch for the content read from it: on a local file
// system that keeps nanoseconds, once the kernel's own timestamp clock has
// passed the file's last change (by FINE_MARGIN_NS) before the read; on
// whole-second, network and unknown file systems, two seconds of the wall
// clock after it.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import {
  COARSE_WINDOW_MS,
  FINE_MARGIN_NS,
  settledAt,
  settlesInMs,
  StampClock,
  timestampKind,
  type ChangeClock,
  type ChangeTimes,
} from "../../src/hashing/racy-window.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-racy-window-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MS = 1_000_000n;
/** A change at `ns` (mtime and ctime alike), on device 1. */
const changedAt = (ns: bigint): ChangeTimes => ({ dev: 1n, mtimeNs: ns, ctimeNs: ns });
const T = 1_765_000_000_123_456_789n;
const wallOf = (ns: bigint) => Number(ns / MS);

describe("the racy-window rule", () => {
  it("on a fine file system: settled once a stamp taken before the read is past the change by more than the margin", () => {
    const id = changedAt(T);
    expect(settledAt(id, "fine", { wallMs: wallOf(T), kernelNs: T + FINE_MARGIN_NS + 1n })).toBe(true);
    expect(settledAt(id, "fine", { wallMs: wallOf(T), kernelNs: T + FINE_MARGIN_NS })).toBe(false);
    // The kernel's clock had not moved on (same tick): a rewrite now would keep the file's times.
    expect(settledAt(id, "fine", { wallMs: wallOf(T) + 500, kernelNs: T })).toBe(false);
    // The later of mtime and ctime counts: an mtime set back does not make a fresh change old.
    expect(settledAt({ dev: 1n, mtimeNs: T - 3600_000n * MS, ctimeNs: T }, "fine", { wallMs: wallOf(T), kernelNs: T + 5n * MS })).toBe(false);
  });

  it("without a stamp of the kernel's clock: the two-second wall-clock rule", () => {
    const id = changedAt(T);
    expect(settledAt(id, "fine", { wallMs: wallOf(T) + 100, kernelNs: undefined })).toBe(false);
    expect(settledAt(id, "fine", { wallMs: wallOf(T) + COARSE_WINDOW_MS + 1, kernelNs: undefined })).toBe(true);
  });

  it("whole-second times (a file system that keeps no fraction): two seconds, whatever the kernel's clock says", () => {
    const whole = changedAt((T / 1_000_000_000n) * 1_000_000_000n);
    const stamp = whole.ctimeNs + 500n * MS;
    expect(settledAt(whole, "fine", { wallMs: wallOf(stamp), kernelNs: stamp })).toBe(false);
    expect(settledAt(whole, "fine", { wallMs: wallOf(whole.ctimeNs) + COARSE_WINDOW_MS + 1, kernelNs: stamp })).toBe(true);
  });

  it("a network or unknown file system (its server's clock stamps, skewed from ours): two seconds of our wall clock", () => {
    const id = changedAt(T);
    // A stamp far past the change proves nothing about a clock that is not this kernel's.
    expect(settledAt(id, "coarse", { wallMs: wallOf(T) + 1500, kernelNs: T + 1500n * MS })).toBe(false);
    expect(settledAt(id, "coarse", { wallMs: wallOf(T) + COARSE_WINDOW_MS + 1, kernelNs: T + 1500n * MS })).toBe(true);
    // A server clock ahead of ours: a change "in the future" is not settled until our clock is two seconds past it.
    expect(settledAt(id, "coarse", { wallMs: wallOf(T) - 30_000, kernelNs: T + 60_000n * MS })).toBe(false);
  });

  it("derives the retry's delay from the rule: tens of ms on a fine file system, past two seconds elsewhere", () => {
    const now = wallOf(T);
    const fine = settlesInMs(changedAt(T), "fine", now);
    expect(fine).toBeGreaterThan(Number(FINE_MARGIN_NS / MS));
    expect(fine).toBeLessThan(100);
    expect(settlesInMs(changedAt(T), "coarse", now)).toBeGreaterThan(COARSE_WINDOW_MS);
    expect(settlesInMs(changedAt((T / 1_000_000_000n) * 1_000_000_000n), "fine", now)).toBeGreaterThan(COARSE_WINDOW_MS - 1000);
    // A file changed long ago: no wait beyond a tick.
    expect(settlesInMs(changedAt(T - 60_000n * MS), "coarse", now)).toBeLessThan(100);
  });
});

describe("file systems and the kernel's clock, as found on this machine", () => {
  it("knows local nanosecond file systems (the temporary directory, /dev/shm) and takes a procfs or sysfs as coarse", () => {
    const f = join(dir, "kind.h");
    writeFileSync(f, "x");
    expect(timestampKind(f, statSync(f, { bigint: true }).dev)).toBe("fine");
    expect(timestampKind("/dev/shm", statSync("/dev/shm", { bigint: true }).dev)).toBe("fine");
    expect(timestampKind("/proc/self/stat", statSync("/proc/self/stat", { bigint: true }).dev)).toBe("coarse");
    expect(timestampKind("/sys/kernel", statSync("/sys/kernel", { bigint: true }).dev)).toBe("coarse");
    expect(timestampKind(join(dir, "no-such-dir", "x"), 987_654_321n)).toBe("coarse");
  });

  it("a stamp is never earlier than the change of a file written before it, and a file written after it never carries an earlier time", async () => {
    const clock = new StampClock(dir);
    for (let i = 0; i < 20; i++) {
      const f = join(dir, `order-${i}.h`);
      writeFileSync(f, `int v${i};\n`);
      const before = statSync(f, { bigint: true });
      await sleep(3); // past the stamp's reuse
      const stamp = clock.moment().kernelNs;
      expect(stamp).toBeDefined();
      expect(stamp!).toBeGreaterThanOrEqual(before.ctimeNs);
      writeFileSync(f, `int w${i};\n`);
      expect(statSync(f, { bigint: true }).ctimeNs).toBeGreaterThanOrEqual(stamp!);
    }
  });

  it("leaves no file behind, and without a writable directory takes no stamp (every file then judged by the wall clock)", () => {
    const own = mkdtempSync(join(dir, "clock-"));
    expect(new StampClock(own).moment().kernelNs).toBeDefined();
    expect(statSync(own).nlink).toBe(2);
    expect(new StampClock(join(dir, "missing-dir")).moment().kernelNs).toBeUndefined();
  });
});

/** A clock whose stamps lag the file just written by `lagNs` behind its change (a read in the same tick), then real ones. */
function laggingClock(file: string, lagNs: () => bigint | undefined): ChangeClock {
  const real = new StampClock(dir);
  return {
    wallMs: () => Date.now(),
    moment: () => {
      const lag = lagNs();
      if (lag === undefined) return real.moment();
      const st = statSync(file, { bigint: true });
      return { wallMs: Date.now(), kernelNs: (st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs) + lag };
    },
  };
}

describe("FileHashCache under the fine rule", () => {
  it("vouches for a file read once the kernel's clock passed its change, not for one read in the same tick; a retry waits tens of ms, not seconds", async () => {
    const f = join(dir, "fresh.h");
    writeFileSync(f, "#define FRESH 1\n");
    let lag: bigint | undefined = 0n;
    const cache = new FileHashCache(1000, laggingClock(f, () => lag));
    await cache.digest(f);
    expect(cache.vouched(f), "read in the tick it changed").toBeUndefined();
    const delay = cache.settleDelayMs([{ path: f, tokens: [] }]);
    expect(delay).toBeLessThan(COARSE_WINDOW_MS / 10);
    lag = FINE_MARGIN_NS;
    await cache.settle(f);
    expect(cache.vouched(f), "read exactly at the margin").toBeUndefined();
    lag = FINE_MARGIN_NS + 1n;
    await cache.settle(f);
    const st = statSync(f, { bigint: true });
    expect(cache.vouched(f)?.identity).toEqual({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
    expect(cache.settleDelayMs([{ path: f, tokens: [] }])).toBe(0);
  });

  it("with the real clock: a file written just before is vouched for once the delay it was given has passed", async () => {
    const f = join(dir, "real.h");
    writeFileSync(f, "#define REAL 1\n");
    const cache = new FileHashCache(1000, new StampClock(dir));
    await cache.digest(f);
    // Bounded: a loaded machine may need a few rounds (each read is judged by a stamp taken before it).
    for (let i = 0; i < 50 && !cache.vouched(f); i++) {
      await sleep(Math.max(1, cache.settleDelayMs([{ path: f, tokens: [] }])));
      await cache.settle(f);
    }
    expect(cache.vouched(f)?.digest.size).toBe(15);
  });

  it("never vouches for bytes Reprise wrote (their write came before any stamp it could take)", async () => {
    const f = join(dir, "written.o");
    const data = Buffer.from("object bytes");
    writeFileSync(f, data);
    await sleep(30);
    const cache = new FileHashCache(1000, new StampClock(dir));
    cache.rememberWritten(f, data);
    await cache.digest(f);
    expect(cache.vouched(f)).toBeUndefined();
  });
});
