import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { threadId } from "node:worker_threads";
import { ScratchSweeper } from "../../src/builder/scratch-sweeper.js";
import { ScratchRemover } from "../../src/builder/scratch-remover.js";

const root = mkdtempSync(join(tmpdir(), "reprise-sweeper-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A scratch directory like a job's: a few files, or (large) more than a synchronous walk takes. */
function scratch(name: string, files = 3): string {
  const dir = join(root, name);
  mkdirSync(join(dir, "tree/sub"), { recursive: true });
  for (let i = 0; i < files; i++) writeFileSync(join(dir, "tree/sub", `f${i}`), "x");
  return dir;
}

describe("job scratch sweeper", () => {
  it("removes a job's scratch a while after the job, not at once, small or large", async () => {
    const sweeper = new ScratchSweeper(150);
    const small = scratch("small");
    const large = scratch("large", 600);
    sweeper.discard(small);
    sweeper.discard(large);
    expect([existsSync(small), existsSync(large), sweeper.waiting]).toEqual([true, true, 2]);
    for (let i = 0; i < 100 && (existsSync(small) || existsSync(large)); i++) await new Promise((r) => setTimeout(r, 20));
    expect([existsSync(small), existsSync(large), sweeper.waiting]).toEqual([false, false, 0]);
  });

  it("removes what still waits at once when flushed (the builder stopping)", async () => {
    const sweeper = new ScratchSweeper(60_000);
    const dirs = [scratch("a"), scratch("b", 600)];
    for (const d of dirs) sweeper.discard(d);
    await sweeper.flush();
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
    expect(sweeper.waiting).toBe(0);
  });

  it("removes on a worker thread, not the event loop's", async () => {
    const sweeper = new ScratchSweeper(10);
    const dirs = [scratch("w1"), scratch("w2", 600)];
    for (const d of dirs) sweeper.discard(d);
    // The worker's answer (its thread id) reaches this thread a moment after the trees are gone: wait for both.
    for (let i = 0; i < 200 && (dirs.some((d) => existsSync(d)) || sweeper.remover.lastThreadId === undefined); i++) await new Promise((r) => setTimeout(r, 20));
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
    expect(sweeper.remover.lastThreadId).toBeGreaterThan(threadId);
    expect(sweeper.remover.fellBack).toBe(0);
    await sweeper.flush();
  });
});

describe("scratch remover", () => {
  it("removes in the calling thread what a worker that ended had not removed", async () => {
    const remover = new ScratchRemover();
    remover.remove([scratch("r1")]);
    await remover.close();
    expect(existsSync(join(root, "r1"))).toBe(false);
    // A worker that dies with trees in flight: they are removed here.
    const dying = new ScratchRemover();
    const dirs = [scratch("r2"), scratch("r3", 300)];
    dying.remove([]);
    (dying as unknown as { start(): { terminate(): Promise<number> } }).start().terminate();
    dying.remove(dirs);
    for (let i = 0; i < 200 && dirs.some((d) => existsSync(d)); i++) await new Promise((r) => setTimeout(r, 20));
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
    expect(dying.fellBack).toBe(2);
    await dying.close();
  });
});
