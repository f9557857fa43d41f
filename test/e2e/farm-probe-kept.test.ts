import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { expectSameAsPlain } from "../support/compare.js";
import { farmLogTail, farmStats } from "../support/farm-client.js";
import { LoopbackFarm } from "../support/loopback-farm.js";

/**
 * The equivalence probe's answer kept across daemons on one cache
 * (docs/dist-design.md, "Farm-start round"), end to end on loopback (a
 * scheduler, a bwrap builder, a client daemon with debug logs): a later
 * daemon's first farm job of a compiler runs no probe (the plugin's
 * `portableToolchain` is not asked: no "equivalence probe answered" line), a
 * changed compiler is probed again, and a damaged file of kept answers is
 * ignored. Every object is byte-identical to a plain compile.
 */

let farm: LoopbackFarm;
let client: RepriseSandbox;

beforeAll(async () => {
  ensureDebianPackages(["bubblewrap"]);
  farm = await LoopbackFarm.start({ builders: [{ id: "kept1" }], dirName: "farm-probe-kept" });
  client = new RepriseSandbox({ REPRISE_LOG: "debug" });
}, 180_000);

afterAll(async () => {
  await client?.dispose();
  await farm?.dispose();
});

let units = 0;

/** The daemon's log (empty before its first start). */
function daemonLog(): string {
  const path = join(client.runtimeDir, "daemon.log");
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

/**
 * A fresh daemon on the client's cache compiles a new source with `compiler` on the farm (a miss, then a hit),
 * byte-identical to a plain compile; how many times it probed and took a kept answer, from its log.
 */
async function inFreshDaemon(compiler: string, label: string): Promise<{ probed: number; kept: number }> {
  const dir = join(farm.dir, `unit${++units}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "unit.c"), `int unit${units}(int x) { return x * ${units + 2} + 1; }\n`);
  await client.run(["--stop-server"], dir);
  const before = daemonLog().length;
  await client.zeroStats();
  await expectSameAsPlain(client, dir, [compiler, "-O2", "-g", "-c", "unit.c", "-o", "unit.o"], ["unit.o"], farm.env()).catch((err: Error) => {
    throw new Error(`${label}: ${err.message}\n${farmLogTail(client)}`);
  });
  const s = await client.stats();
  expect(s.fallbacks, `${label}\n${farmLogTail(client)}`).toEqual({});
  expect(farmStats(s).compiles, label).toBe(1);
  const log = daemonLog().slice(before);
  return { probed: log.match(/farm: equivalence probe answered in/g)?.length ?? 0, kept: log.match(/farm: equivalence probe kept from an earlier daemon/g)?.length ?? 0 };
}

describe("the equivalence probe's answer, kept in the cache across daemons", () => {
  it("a later daemon on the same cache runs no probe", async () => {
    expect(await inFreshDaemon("gcc", "first daemon")).toEqual({ probed: 1, kept: 0 });
    expect(await inFreshDaemon("gcc", "second daemon")).toEqual({ probed: 0, kept: 1 });
    expect(await inFreshDaemon("gcc", "third daemon")).toEqual({ probed: 0, kept: 1 });
  }, 300_000);

  it("a changed compiler (its binary's content and stat identity) is probed again, then kept", async () => {
    // A copy of this machine's gcc driver in a directory of its own; it finds cc1 through ../lib/gcc as Debian's does.
    const root = join(farm.dir, "own-gcc");
    mkdirSync(join(root, "bin"), { recursive: true });
    mkdirSync(join(root, "lib"), { recursive: true });
    const driver = join(root, "bin", "gcc");
    copyFileSync(realpathSync("/usr/bin/gcc"), driver);
    symlinkSync("/usr/lib/gcc", join(root, "lib", "gcc"));
    expect(await inFreshDaemon(driver, "own gcc, first daemon")).toEqual({ probed: 1, kept: 0 });
    expect(await inFreshDaemon(driver, "own gcc, second daemon")).toEqual({ probed: 0, kept: 1 });
    // Bytes after the ELF's last section: the driver runs the same, but it is another file.
    appendFileSync(driver, Buffer.from("changed"));
    expect(await inFreshDaemon(driver, "own gcc changed")).toEqual({ probed: 1, kept: 0 });
    expect(await inFreshDaemon(driver, "own gcc changed, next daemon")).toEqual({ probed: 0, kept: 1 });
  }, 400_000);

  it("a damaged file of kept answers is ignored, and written again", async () => {
    expect(await inFreshDaemon("gcc", "before the damage")).toEqual({ probed: 0, kept: 1 });
    await client.run(["--stop-server"], client.root);
    const kept = join(client.cacheDir, "dist-equivalences.json");
    expect(existsSync(kept)).toBe(true);
    writeFileSync(kept, readFileSync(kept, "utf8").replace(/"equivalence":"[0-9a-f]/, '"equivalence":"!'));
    expect(await inFreshDaemon("gcc", "damaged")).toEqual({ probed: 1, kept: 0 });
    writeFileSync(kept, "{ not json");
    expect(await inFreshDaemon("gcc", "not json")).toEqual({ probed: 1, kept: 0 });
    expect(await inFreshDaemon("gcc", "written again")).toEqual({ probed: 0, kept: 1 });
  }, 400_000);
});
