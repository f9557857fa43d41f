import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CompilerDetector, rememberedDetections } from "../../src/engine/compiler-detector.js";
import { Engine } from "../../src/engine/engine.js";
import type { ReprisePlugin } from "../../src/engine/plugin.js";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";

/** A plugin that asks the real compiler its version, counting how often it was asked. */
function countingGcc(counter: { probes: number }): ReprisePlugin {
  return {
    name: "test-gcc",
    apply(engine) {
      engine.hooks.detectCompiler.tapPromise("test-gcc", async (probe) => {
        counter.probes++;
        const run = await probe.run(["-dumpfullversion"]);
        if (run.exitCode !== 0) return undefined;
        return { family: "gcc", path: probe.path, realPath: probe.realPath, version: run.stdout.trim(), versionText: run.stdout, data: { probed: true } };
      });
    },
  };
}

let dir: string;
let compiler: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reprise-detections-"));
  // A copy of the real driver, settled (changed well before now), so its stat identity can be changed at will.
  compiler = join(dir, "gcc");
  copyFileSync("/usr/bin/gcc", compiler);
  const past = new Date(Date.now() - 60_000);
  utimesSync(compiler, past, past);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A daemon's view: a fresh engine, hash cache and records read from the cache directory. */
function daemon(counter: { probes: number }, plugins = "[test-gcc]") {
  const engine = new Engine().use(countingGcc(counter));
  const records = rememberedDetections(join(dir, "cache"));
  return { detector: new CompilerDetector(engine, new FileHashCache(), { records, plugins }), records };
}

async function waitSettled(): Promise<void> {
  // The copy's ctime is now: the racy window must pass before its detection may outlive the daemon.
  await new Promise((r) => setTimeout(r, 2_100));
}

describe("compiler detections kept across daemon restarts", () => {
  it("a fresh daemon recalls what the plugins said about an unchanged compiler, without probing it", { timeout: 60_000 }, async () => {
    await waitSettled();
    const counter = { probes: 0 };
    const first = daemon(counter);
    const probed = await first.detector.detect(compiler, { PATH: "/usr/bin:/bin" });
    expect(probed?.family).toBe("gcc");
    expect(counter.probes).toBe(1);
    first.records.flush();
    expect(readFileSync(join(dir, "cache", "compiler-detections.json"), "utf8")).toContain(compiler);

    const second = daemon(counter);
    const recalled = await second.detector.detect(compiler, { PATH: "/usr/bin:/bin" });
    expect(counter.probes).toBe(1);
    expect(recalled).toEqual(probed);
  });

  it("probes again when the binary changed, when the plugins differ, and not at all for a compiler changed just now", { timeout: 60_000 }, async () => {
    await waitSettled();
    const counter = { probes: 0 };
    const first = daemon(counter);
    const before = await first.detector.detect(compiler, {});
    first.records.flush();
    expect(counter.probes).toBe(1);

    // Other plugins may answer otherwise.
    const other = daemon(counter, "[test-gcc, another]");
    await other.detector.detect(compiler, {});
    expect(counter.probes).toBe(2);

    // The same bytes, touched: its identity changed, so it is probed again. Its mtime is in the future, so it counts as
    // changing now however slow this machine is: not remembered.
    utimesSync(compiler, new Date(Date.now() - 30_000), new Date(Date.now() + 3_600_000));
    const touched = daemon(counter);
    const after = await touched.detector.detect(compiler, {});
    expect(counter.probes).toBe(3);
    expect(after?.identity).toBe(before?.identity);
    touched.records.flush();
    const again = daemon(counter);
    await again.detector.detect(compiler, {});
    expect(counter.probes).toBe(4);

    // Settled now: remembered, and recalled by the next daemon.
    const past = new Date(Date.now() - 30_000);
    utimesSync(compiler, past, past);
    await waitSettled();
    const settled = daemon(counter);
    await settled.detector.detect(compiler, {});
    settled.records.flush();
    expect(counter.probes).toBe(5);
    await daemon(counter).detector.detect(compiler, {});
    expect(counter.probes).toBe(5);
  });

  it("ignores a damaged records file and probes", { timeout: 60_000 }, async () => {
    await waitSettled();
    const counter = { probes: 0 };
    const first = daemon(counter);
    await first.detector.detect(compiler, {});
    first.records.flush();
    const file = join(dir, "cache", "compiler-detections.json");
    writeFileSync(file, readFileSync(file, "utf8").replace('"probed":true', '"probed":false'));
    const second = await daemon(counter).detector.detect(compiler, {});
    expect(counter.probes).toBe(2);
    expect(second?.data).toEqual({ probed: true });
  });
});
