import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ScratchSweeper } from "../../src/builder/scratch-sweeper.js";

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

  it("removes what still waits at once when flushed (the builder stopping)", () => {
    const sweeper = new ScratchSweeper(60_000);
    const dirs = [scratch("a"), scratch("b", 600)];
    for (const d of dirs) sweeper.discard(d);
    sweeper.flush();
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
    expect(sweeper.waiting).toBe(0);
  });
});
