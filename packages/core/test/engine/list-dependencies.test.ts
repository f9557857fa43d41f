import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SettingsLoader } from "../../src/config/load-settings.js";
import { CompileService } from "../../src/engine/compile-service.js";
import { CompilerDetector } from "../../src/engine/compiler-detector.js";
import { Engine } from "../../src/engine/engine.js";
import type { CompileInvocation, CompileRequest } from "../../src/engine/types.js";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import { localStoragePlugin } from "../../src/storage/local-storage-plugin.js";
import { StorageRegistry } from "../../src/storage/storage-registry.js";
import { Stats } from "../../src/stats/stats.js";
import { silentLogger } from "../../src/util/logger.js";

/**
 * `dependencies.listFile` and the `listDependencies` hook: a miss whose own
 * compile lists what it read needs no scan; a list the plugin refuses, or a
 * tap that fails, makes the scan run. A real CompileService with a shell
 * "compiler" whose own dependency file names the source only (like -MMD
 * leaving system headers out) and whose list (written where $LIST_TO says)
 * names the header too.
 */

let tmp: string;
let proj: string;
let compiler: string;
let scanner: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "reprise-list-deps-"));
  proj = join(tmp, "proj");
  mkdirSync(proj);
  compiler = join(tmp, "listcc");
  // listcc SRC OUT DEP: OUT = the source and header; DEP names the source; $LIST_TO (when set) names both.
  writeFileSync(compiler, `#!/bin/sh\ncat "$1" hdr.h > "$2"\necho "$2: $1" > "$3"\n[ -n "$LIST_TO" ] && printf '%s\\n' "$1" hdr.h > "$LIST_TO"\nexit 0\n`);
  scanner = join(tmp, "scan");
  // scan SRC DEP: the complete list; logs each run and whether it saw the compile's list variable.
  writeFileSync(scanner, `#!/bin/sh\necho "run \${LIST_TO-none}" >> "${join(tmp, "scans.log")}"\necho "x: $1 hdr.h" > "$2"\n`);
  chmodSync(compiler, 0o755);
  chmodSync(scanner, 0o755);
  writeFileSync(join(proj, "a.src"), "source\n");
  writeFileSync(join(proj, "hdr.h"), "header\n");
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Tap = (listed: string | undefined, cwd: string) => string[] | null;

function service(tap: Tap | undefined) {
  const engine = new Engine();
  engine.use(localStoragePlugin);
  engine.use({
    name: "listcc",
    apply(e) {
      e.hooks.detectCompiler.tapPromise("listcc", async (probe) =>
        probe.invokedName === "listcc" ? { family: "listcc", path: probe.path, realPath: probe.realPath, version: "1", versionText: "listcc 1" } : undefined,
      );
      e.hooks.parseArguments.for("listcc").tap("listcc", (input) => {
        const [, src, out] = input.argv as [string, string, string];
        const dep = input.tempPath(".d");
        const list = input.tempPath(".list");
        const scanDep = input.tempPath(".scan.d");
        const inv: CompileInvocation = {
          language: "listcc",
          sourceFile: join(input.cwd, src),
          outputs: [{ role: "out", path: join(input.cwd, out) }],
          keyArgs: [src, out],
          preprocessorOnlyArgs: [],
          compileArgv: [input.argv[0]!, src, out, dep],
          dependencies: { depFile: dep, depFileIsTemporary: true, listFile: list, listEnv: { LIST_TO: list }, scanArgv: [scanner, src, scanDep], scanDepFile: scanDep },
          keyEnv: [],
          volatileMarkers: [],
          dependsOnCwd: false,
          colorDiagnostics: false,
          extraInputFiles: [],
        };
        return { cacheable: true, invocation: inv };
      });
      if (tap) e.hooks.listDependencies.for("listcc").tap("listcc", ({ listed, cwd }) => tap(listed, cwd));
    },
  });
  const hashes = new FileHashCache();
  const stats = new Stats();
  const project = { engine, detector: new CompilerDetector(engine, hashes), storages: new StorageRegistry(engine) };
  const svc = new CompileService({
    settings: new SettingsLoader(),
    projects: { for: async () => project },
    hashes,
    stats,
    limit: pLimit(2),
    selfPaths: new Set(),
    tempDir: mkdtempSync(join(tmp, "t-")),
    logger: silentLogger,
  });
  return { svc, stats };
}

const cacheDir = () => join(tmp, `cache-${Math.random()}`);

function request(dir: string): CompileRequest {
  return { argv: [compiler, "a.src", "a.out"], cwd: proj, env: { PATH: "/usr/bin:/bin", HOME: tmp, REPRISE_DIR: dir }, stdoutIsTTY: false, stderrIsTTY: false };
}

const scanRuns = () => (existsSync(join(tmp, "scans.log")) ? readFileSync(join(tmp, "scans.log"), "utf8").split("\n").filter(Boolean) : []);
const fromLines = (listed: string | undefined, cwd: string) => listed?.split("\n").filter(Boolean).map((l) => join(cwd, l)) ?? null;

/** Waits (bounded) until the files were last changed long enough ago for direct mode to record them (not racy). */
async function aged(...names: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (names.some((n) => statSync(join(proj, n)).ctimeMs > Date.now() - 100) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Compiles twice (the second must hit: the entry was recorded), then edits
 * the header: the next call must miss if the manifest names it.
 */
async function headerEditMisses(svc: CompileService, stats: Stats, dir: string): Promise<boolean> {
  await aged("a.src", "hdr.h");
  await svc.run(request(dir));
  await svc.settle();
  await svc.run(request(dir));
  expect(stats.snapshot().hitsDirect, "the first compile's entry was recorded").toBe(1);
  const before = stats.snapshot().misses;
  appendFileSync(join(proj, "hdr.h"), "edited\n");
  try {
    await aged("hdr.h");
    await svc.run(request(dir));
    await svc.settle();
    return stats.snapshot().misses > before;
  } finally {
    writeFileSync(join(proj, "hdr.h"), "header\n");
  }
}

describe("a miss that lists what it read in its own compile", () => {
  it("needs no scan, and the manifest holds what only the list names", async () => {
    rmSync(join(tmp, "scans.log"), { force: true });
    const { svc, stats } = service(fromLines);
    expect(await headerEditMisses(svc, stats, cacheDir())).toBe(true);
    expect(stats.snapshot().dependencyLists).toEqual({ fromCompile: 2, scans: 0 });
    expect(scanRuns()).toEqual([]);
  });

  it("a list the plugin refuses: the scan runs, without the compile's own variables", async () => {
    rmSync(join(tmp, "scans.log"), { force: true });
    const { svc, stats } = service(() => null);
    expect(await headerEditMisses(svc, stats, cacheDir())).toBe(true);
    expect(stats.snapshot().dependencyLists).toEqual({ fromCompile: 0, scans: 2 });
    expect(scanRuns()).toEqual(["run none", "run none"]);
  });

  it("a tap that returns what is not a list of absolute paths: counted, the scan runs, the build goes on", async () => {
    rmSync(join(tmp, "scans.log"), { force: true });
    const { svc, stats } = service(() => ["hdr.h"]);
    const r = await svc.run(request(cacheDir()));
    await svc.settle();
    expect(r).toMatchObject({ kind: "done", exitCode: 0 });
    expect(stats.snapshot().errors["list-dependencies-plugin-error"]).toBe(1);
    expect(stats.snapshot().dependencyLists).toEqual({ fromCompile: 0, scans: 1 });
    expect(scanRuns()).toHaveLength(1);
  });

  it("no tap for the family: the scan runs beside the compile as before", async () => {
    rmSync(join(tmp, "scans.log"), { force: true });
    const { svc, stats } = service(undefined);
    expect(await headerEditMisses(svc, stats, cacheDir())).toBe(true);
    expect(stats.snapshot().dependencyLists.scans).toBe(2);
  });
});
