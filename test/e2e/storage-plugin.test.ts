import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fg from "fast-glob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, RepriseSandbox } from "../support/reprise-env.js";
import { buildAndCompare, levelsOf, plainObjects, writeProject } from "../support/remote-levels.js";

/**
 * A backend written against the public hook only (test-fixtures/storage-plugin),
 * listed in `plugins` and used as a level from a config file: the way in for
 * third parties is the one the built-in backends use.
 */
let owner: RepriseSandbox;
let work: string;
let shared: string;
const machines: RepriseSandbox[] = [];

beforeAll(() => {
  owner = new RepriseSandbox();
  work = join(owner.root, "checkout");
  shared = join(owner.root, "shared-cache");
  mkdirSync(work, { recursive: true });
  copyFileSync(join(REPO_ROOT, "test-fixtures/storage-plugin/shared-dir-storage.mjs"), join(work, "shared-dir-storage.mjs"));
  // The project has @reprise/core installed, as a project using a third-party plugin would.
  mkdirSync(join(work, "node_modules/@reprise"), { recursive: true });
  symlinkSync(join(REPO_ROOT, "packages/core"), join(work, "node_modules/@reprise/core"));
});

afterAll(async () => {
  await Promise.all(machines.map((m) => m.dispose()));
  await owner.dispose();
});

function machine(env: Record<string, string> = {}): RepriseSandbox {
  const m = new RepriseSandbox(env);
  machines.push(m);
  return m;
}

describe("a third-party storage plugin as a level", () => {
  it("levels from a config file: two machines share the plugin's level", async () => {
    writeFileSync(
      join(work, ".repriserc.json"),
      JSON.stringify({
        plugins: ["@reprise/plugin-gcc", "./shared-dir-storage.mjs"],
        levels: [{ kind: "local" }, { kind: "shared-dir", options: { path: shared } }],
      }),
    );
    const units = writeProject(work, 3, "tp");
    const reference = await plainObjects(work, units);
    const ci = machine();
    await buildAndCompare(ci, work, units, reference);
    await ci.idleCopiesMade(work);
    const ciLevels = await levelsOf(ci, work);
    expect(ciLevels.map((l) => [l.kind, l.writes])).toEqual([
      // Result, manifest and the direct-mode fallback's copy (first level only) of each unit.
      ["local", 9],
      ["shared-dir", 6],
    ]);
    expect(await fg("results/*", { cwd: shared })).toHaveLength(3);

    const laptop = machine();
    await buildAndCompare(laptop, work, units, reference);
    expect((await laptop.stats(work)).hitsDirect).toBe(3);
    expect((await levelsOf(laptop, work))[1]!.hits).toBe(6);
  });

  it("a read-only level from the config file is never written", async () => {
    const roShared = join(owner.root, "ro-cache");
    writeFileSync(
      join(work, ".repriserc.json"),
      JSON.stringify({
        plugins: ["@reprise/plugin-gcc", "./shared-dir-storage.mjs"],
        levels: [{ kind: "local" }, { kind: "shared-dir", options: { path: roShared }, readOnly: true }],
      }),
    );
    const units = writeProject(work, 2, "tpro");
    const reference = await plainObjects(work, units);
    const m = machine();
    await buildAndCompare(m, work, units, reference);
    const levels = await levelsOf(m, work);
    expect(levels[1]!.readOnly).toBe(true);
    expect(levels[1]!.writes).toBe(0);
    expect(existsSync(roShared)).toBe(false);
  });
});
