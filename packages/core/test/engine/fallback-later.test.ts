// When the daemon makes the fallback copies of cold misses: only while no
// call is in flight (after a second of quiet), chores first, a sibling's copy
// at once when a call needs it, and nothing after close().
import { describe, expect, it } from "vitest";
import { FallbackLater, type CopyChecks, type LaterCopy } from "../../src/engine/fallback-later.js";
import { Logger } from "../../src/util/logger.js";

const until = async (cond: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
};

function copy(label: string, log: string[]): LaterCopy {
  return {
    label,
    run: async (lowPriority) => {
      log.push(`${label}:${lowPriority ? "idle" : "now"}`);
    },
  };
}

describe("FallbackLater", () => {
  it("makes queued copies only once no call has been in flight for a while, chores first", async () => {
    const log: string[] = [];
    const waiting: number[] = [];
    const later = new FallbackLater(new Logger("error"), (n) => waiting.push(n));
    later.callStarted();
    later.register("a", true)(copy("a", log));
    later.whenIdle(() => log.push("chore"));
    later.callStarted();
    later.callEnded();
    await new Promise((r) => setTimeout(r, 2300));
    expect(log, "a call is still in flight").toEqual([]);
    const quietSince = Date.now();
    later.callEnded();
    await until(() => log.length === 2);
    expect(Date.now() - quietSince).toBeGreaterThanOrEqual(1900);
    expect(log).toEqual(["chore", "a:idle"]);
    expect(waiting.at(-1)).toBe(0);
  });

  it("a chore queued while a slow copy is being made runs at the next idle moment, not after the copy", async () => {
    const log: string[] = [];
    const later = new FallbackLater(new Logger("error"));
    let finishCopy!: () => void;
    const slow: LaterCopy = {
      label: "slow",
      run: () => {
        log.push("slow:started");
        return new Promise<void>((r) => (finishCopy = r));
      },
    };
    later.callStarted();
    later.register("s", true)(slow);
    later.callEnded();
    await until(() => log.includes("slow:started"));
    // A call comes and goes while the copy (nice 19 on a busy machine: seconds) is still being made.
    later.callStarted();
    later.whenIdle(() => log.push("chore"));
    later.callEnded();
    await until(() => log.includes("chore"));
    expect(log).toEqual(["slow:started", "chore"]);
    finishCopy();
    await later.close();
  });

  it("a call with a sibling waits for the sibling's store, then has its copy made at once", async () => {
    const log: string[] = [];
    const later = new FallbackLater(new Logger("error"));
    later.callStarted();
    const stored = later.register("k", true);
    expect(await later.sibling("other")).toBe(false);
    const waiting = later.sibling("k");
    let done = false;
    void waiting.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done, "the sibling's entry is not stored yet").toBe(false);
    stored(copy("k", log));
    expect(await waiting).toBe(true);
    expect(log).toEqual(["k:now"]);
    later.callEnded();
  });

  it("a miss that was not stored settles its sibling without a copy", async () => {
    const later = new FallbackLater(new Logger("error"));
    later.callStarted();
    later.register("k", true)(undefined);
    expect(await later.sibling("k")).toBe(true);
    later.callEnded();
  });

  it("close() drops what waits and makes nothing more", async () => {
    const log: string[] = [];
    const later = new FallbackLater(new Logger("error"));
    later.callStarted();
    later.register("a", true)(copy("a", log));
    later.whenIdle(() => log.push("chore"));
    await later.close();
    later.callEnded();
    later.register("b", true)(copy("b", log));
    await new Promise((r) => setTimeout(r, 2300));
    expect(log).toEqual([]);
  });

  it("a copy kept for siblings only (the default) is made when a sibling asks, never while idle, kept past the idle pause, dropped after a longer quiet", async () => {
    const log: string[] = [];
    const waiting: number[] = [];
    const later = new FallbackLater(new Logger("error"), (n) => waiting.push(n), 3000);
    later.callStarted();
    for (const k of ["a", "b", "c"]) later.register(k, false)(copy(k, log));
    expect(waiting.at(-1), "not counted as waiting for idle time").toBe(0);
    expect(await later.sibling("a")).toBe(true);
    expect(log).toEqual(["a:now"]);
    let choreRan = false;
    later.whenIdle(() => (choreRan = true));
    later.callEnded();
    await until(() => choreRan);
    // Idle (chores done): no copy was made for idle time, and a sibling compiled after a pause in the build still finds its copy.
    expect(log).toEqual(["a:now"]);
    expect(await later.sibling("b")).toBe(true);
    expect(log).toEqual(["a:now", "b:now"]);
    // After the longer quiet, the rest is dropped, not made.
    await until(() => later.siblingOnly() === 0);
    expect(await later.sibling("c")).toBe(true);
    expect(log).toEqual(["a:now", "b:now"]);
    await later.close();
  });

  it("forget() (the cache was cleared) drops every miss seen and every copy waiting", async () => {
    const log: string[] = [];
    const waiting: number[] = [];
    const later = new FallbackLater(new Logger("error"), (n) => waiting.push(n));
    later.callStarted();
    later.register("a", true)(copy("a", log));
    expect(waiting.at(-1)).toBe(1);
    later.forget();
    expect(waiting.at(-1)).toBe(0);
    expect(await later.sibling("a")).toBe(false);
    later.callEnded();
    await new Promise((r) => setTimeout(r, 2300));
    expect(log).toEqual([]);
    await later.close();
  });

  it("a copy opens with the closing check of the copy made just before it in the same idle run, never across a call", async () => {
    const given: [string, string | undefined][] = [];
    const checked = (label: string): LaterCopy => ({
      label,
      run: async (_lowPriority, previous?: CopyChecks) => {
        given.push([label, previous?.seen.keys().next().value]);
        return { seen: new Map([[`/after/${label}`, null]]), atMs: performance.now() };
      },
    });
    const later = new FallbackLater(new Logger("error"));
    later.callStarted();
    for (const k of ["a", "b", "c"]) later.register(k, true)(checked(k));
    later.callEnded();
    await until(() => given.length === 3);
    expect(given).toEqual([["a", undefined], ["b", "/after/a"], ["c", "/after/b"]]);
    // A call in between: the next idle run starts afresh.
    later.callStarted();
    later.register("d", true)(checked("d"));
    later.register("e", true)(checked("e"));
    later.callEnded();
    await until(() => given.length === 5);
    expect(given.slice(3)).toEqual([["d", undefined], ["e", "/after/d"]]);
    // A sibling's copy, made for a call, is given none.
    later.callStarted();
    const stored = later.register("f", true);
    const waiting = later.sibling("f");
    stored(checked("f"));
    await waiting;
    expect(given.at(-1)).toEqual(["f", undefined]);
    later.callEnded();
    await later.close();
  });
});
