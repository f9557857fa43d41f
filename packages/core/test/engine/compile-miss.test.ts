import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SettingsLoader } from "../../src/config/load-settings.js";
import { CompileService } from "../../src/engine/compile-service.js";
import { CompilerDetector } from "../../src/engine/compiler-detector.js";
import { Engine } from "../../src/engine/engine.js";
import type { MissCompileResult, MissContext } from "../../src/engine/hooks.js";
import type { CompileInvocation, CompileRequest } from "../../src/engine/types.js";
import { writeOutputAtomically } from "../../src/engine/write-output.js";
import { FileHashCache, type FileDigest } from "../../src/hashing/file-hash-cache.js";
import { localStoragePlugin } from "../../src/storage/local-storage-plugin.js";
import { StorageRegistry } from "../../src/storage/storage-registry.js";
import { Stats } from "../../src/stats/stats.js";
import { silentLogger } from "../../src/util/logger.js";

/**
 * `compileMiss`: where a miss is compiled. A real CompileService with a tiny
 * shell "compiler" (writes "local" into its output); the taps below stand for
 * a sandbox or a farm and write their own output, as such a tap must.
 */

let tmp: string;
let proj: string;
let compiler: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "reprise-compile-miss-"));
  proj = join(tmp, "proj");
  mkdirSync(proj);
  compiler = join(tmp, "misscc");
  writeFileSync(compiler, `#!/bin/sh\necho local > "$2"\necho "$2: $1" > "$3"\n`);
  chmodSync(compiler, 0o755);
  writeFileSync(join(proj, "a.src"), "source\n");
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** `scanner`: the call also has a dependency scan (as gcc's -MMD calls do), this shell script, whose runs it counts in `counter`. */
function setup(tap?: (ctx: MissContext) => Promise<MissCompileResult | undefined>, maxJobs = 2, scan?: { scanner: string; counter: string }) {
  const engine = new Engine();
  engine.use(localStoragePlugin);
  engine.use({
    name: "misscc",
    apply(e) {
      e.hooks.detectCompiler.tapPromise("misscc", async (probe) =>
        probe.invokedName === "misscc" ? { family: "misscc", path: probe.path, realPath: probe.realPath, version: "1", versionText: "misscc 1" } : undefined,
      );
      e.hooks.parseArguments.for("misscc").tap("misscc", (input) => {
        const [, src, out] = input.argv as [string, string, string];
        const dep = input.tempPath(".d");
        const inv: CompileInvocation = {
          language: "misscc",
          sourceFile: join(input.cwd, src),
          outputs: [{ role: "out", path: join(input.cwd, out) }],
          keyArgs: [src, out],
          preprocessorOnlyArgs: [],
          compileArgv: [input.argv[0]!, src, out, dep],
          dependencies: scan
            ? { depFile: dep, depFileIsTemporary: true, scanArgv: [scan.scanner, dep + ".scan", scan.counter], scanDepFile: dep + ".scan" }
            : { depFile: dep, depFileIsTemporary: true },
          keyEnv: [],
          volatileMarkers: [],
          dependsOnCwd: false,
          colorDiagnostics: false,
          extraInputFiles: [],
        };
        return { cacheable: true, invocation: inv };
      });
    },
  });
  if (tap) engine.use({ name: "elsewhere", apply: (e) => e.hooks.compileMiss.tapPromise("elsewhere", tap) });
  const hashes = new FileHashCache();
  const stats = new Stats();
  const project = { engine, detector: new CompilerDetector(engine, hashes), storages: new StorageRegistry(engine) };
  const service = new CompileService({
    settings: new SettingsLoader(),
    projects: { for: async () => project },
    hashes,
    stats,
    limit: pLimit(maxJobs),
    selfPaths: new Set(),
    tempDir: mkdtempSync(join(tmp, "t-")),
    logger: silentLogger,
  });
  return { service, stats };
}

function request(cacheDir = join(tmp, `cache-${Math.random()}`)): CompileRequest {
  return { argv: [compiler, "a.src", "a.out"], cwd: proj, env: { PATH: "/usr/bin:/bin", HOME: tmp, REPRISE_DIR: cacheDir }, stdoutIsTTY: false, stderrIsTTY: false };
}

/** What a remote tap does: writes the output and the dependency file where the compile would. */
function remoteCompile(ctx: MissContext, text: string): MissCompileResult {
  writeOutputAtomically(ctx.invocation.outputs[0]!.path, Buffer.from(text));
  writeOutputAtomically(ctx.invocation.dependencies.depFile!, Buffer.from(`${ctx.invocation.outputs[0]!.path}: ${ctx.invocation.sourceFile}\n`));
  ctx.stats.remoteCompile("test-farm", { roundTripMs: 5, bytesUploaded: 10, roundTrips: 1 });
  return { exitCode: 0, stdout: Buffer.from("remote stdout\n"), stderr: Buffer.alloc(0), durationMs: 5 };
}

describe("compileMiss", () => {
  it("with no tap taking the miss, the compiler runs locally", async () => {
    const seen: MissContext[] = [];
    const { service } = setup(async (ctx) => {
      seen.push(ctx);
      return undefined;
    });
    const r = await service.run(request());
    expect(r.kind).toBe("done");
    expect(readFileSync(join(proj, "a.out"), "utf8")).toBe("local\n");
    expect(seen).toHaveLength(1);
    expect(seen[0]!.invocation.sourceFile).toBe(join(proj, "a.src"));
    expect(seen[0]!.localSlotFree()).toBe(true);
  });

  it("a tap's result is the call's, is cached, and a later hit restores it", async () => {
    const cache = join(tmp, "cache-taken");
    const { service, stats } = setup(async (ctx) => remoteCompile(ctx, "remote\n"));
    const first = await service.run(request(cache));
    expect(first.kind === "done" && first.stdout.toString()).toBe("remote stdout\n");
    expect(readFileSync(join(proj, "a.out"), "utf8")).toBe("remote\n");
    await service.settle();
    rmSync(join(proj, "a.out"));
    const second = await service.run(request(cache));
    expect(second.kind === "done" && second.stdout.toString()).toBe("remote stdout\n");
    expect(readFileSync(join(proj, "a.out"), "utf8")).toBe("remote\n");
    const s = stats.snapshot();
    expect(s.misses).toBe(1);
    expect(s.hitsDirect).toBe(1);
    expect(s.remote["test-farm"]).toEqual({ compiles: 1, bytesUploaded: 10, roundTrips: 1 });
    expect(s.remoteRoundTripMs).toBe(5);
  });

  it("only local work holds a local slot: a tap sees the slots busy while others compile locally", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slotsSeen: boolean[] = [];
    const { service } = setup(async (ctx) => {
      slotsSeen.push(ctx.localSlotFree());
      if (slotsSeen.length === 1) {
        // The first call holds the only local slot until the second has looked.
        await ctx.inLocalSlot(() => gate);
        return remoteCompile(ctx, "first\n");
      }
      release();
      return remoteCompile(ctx, "second\n");
    }, 1);
    const [a, b] = await Promise.all([service.run(request()), (async () => {
      await new Promise((r) => setTimeout(r, 50));
      return service.run(request());
    })()]);
    expect(a.kind).toBe("done");
    expect(b.kind).toBe("done");
    expect(slotsSeen).toEqual([true, false]);
  });

  it("a burst of misses does not all see the same free slot: with one slot, one compiles here and the rest go elsewhere", async () => {
    const decisions: string[] = [];
    let arrived = 0;
    let allArrived!: () => void;
    const barrier = new Promise<void>((r) => (allArrived = r));
    const { service, stats } = setup(async (ctx) => {
      // All four decide together, as a make -j burst does.
      if (++arrived === 4) allArrived();
      await barrier;
      // What an "overflow" farm client does: local while a slot is free, else remote.
      if (ctx.localSlotFree()) {
        decisions.push("local");
        return undefined;
      }
      decisions.push("remote");
      return remoteCompile(ctx, "remote\n");
    }, 1);
    const results = await Promise.all(Array.from({ length: 4 }, () => service.run(request())));
    expect(results.every((r) => r.kind === "done")).toBe(true);
    expect(decisions.filter((d) => d === "local")).toHaveLength(1);
    expect(stats.snapshot().remote["test-farm"]?.compiles).toBe(3);
  });

  it("a tap that throws leaves the miss to a local compile, counted", async () => {
    const { service, stats } = setup(async () => {
      throw new Error("boom");
    });
    const r = await service.run(request());
    expect(r.kind).toBe("done");
    expect(readFileSync(join(proj, "a.out"), "utf8")).toBe("local\n");
    expect(stats.snapshot().fallbacks).toEqual({ "compile-miss-plugin-error": 1 });
  });

  it("a tap's invalid result (checked at the hook boundary) leaves the miss to a local compile, counted", async () => {
    const { service, stats } = setup(async () => ({ exitCode: 0, stdout: "not a buffer", stderr: Buffer.alloc(0), durationMs: 1 }) as unknown as MissCompileResult);
    const r = await service.run(request());
    expect(r.kind).toBe("done");
    expect(readFileSync(join(proj, "a.out"), "utf8")).toBe("local\n");
    expect(stats.snapshot().fallbacks).toEqual({ "compile-miss-plugin-error": 1 });
  });

  describe("digests the tap took of what its compile read (MissCompileResult.inputs)", () => {
    /** A tap that carries the source and a header as they are now, then (while "remote") sees the header edited. */
    const carrying = (header: string, edit: string, sourceHash?: string) => async (ctx: MissContext) => {
      const tokens = ctx.fileHashes!.tokens;
      const digests = new Map<string, FileDigest>();
      for (const path of [ctx.invocation.sourceFile, header]) digests.set(path, (await ctx.fileHashes!.cache.digest(path, tokens))!);
      if (sourceHash) digests.set(ctx.invocation.sourceFile, { ...digests.get(ctx.invocation.sourceFile)!, hash: sourceHash });
      writeFileSync(header, edit);
      writeOutputAtomically(ctx.invocation.outputs[0]!.path, Buffer.from("remote\n"));
      writeOutputAtomically(ctx.invocation.dependencies.depFile!, Buffer.from(`${ctx.invocation.outputs[0]!.path}: ${ctx.invocation.sourceFile} ${header}\n`));
      return { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), durationMs: 5, inputs: { tokens: [...tokens], digests, listedBy: "own" as const } };
    };

    it("the store records the carried digests, not the files as they are after the compile", async () => {
      const cache = join(tmp, "cache-carried");
      const header = join(proj, "carried.h");
      writeFileSync(header, "v1\n");
      const { service, stats } = setup(carrying(header, "v2, edited while the job ran\n"));
      expect((await service.run(request(cache))).kind).toBe("done");
      await service.settle();
      // Hashing the header itself, the store would see it changed during the compile and record nothing.
      writeFileSync(header, "v1\n");
      const again = await service.run(request(cache));
      expect(again.kind).toBe("done");
      expect(stats.snapshot()).toMatchObject({ misses: 1, hitsDirect: 1 });
      rmSync(header);
    });

    it("digests of another source than the key's are not recorded", async () => {
      const cache = join(tmp, "cache-other-source");
      const header = join(proj, "other.h");
      writeFileSync(header, "v1\n");
      const { service, stats } = setup(carrying(header, "v1\n", "f".repeat(64)));
      await service.run(request(cache));
      await service.settle();
      await service.run(request(cache));
      await service.settle();
      expect(stats.snapshot()).toMatchObject({ misses: 2, hitsDirect: 0 });
      rmSync(header);
    });
  });

  it("the store takes the outputs' bytes the tap gives (MissCompileResult.outputs) without reading the files back", async () => {
    const cache = join(tmp, "cache-given-outputs");
    // The file and the bytes given differ only so the test can tell which the store took; a real tap gives what it wrote.
    const { service } = setup(async (ctx) => ({ ...remoteCompile(ctx, "on disk\n"), outputs: [{ role: "out", data: Buffer.from("given\n") }] }));
    await service.run(request(cache));
    await service.settle();
    rmSync(join(proj, "a.out"));
    await service.run(request(cache));
    expect(readFileSync(join(proj, "a.out"), "utf8")).toBe("given\n");
  });

  it("the store takes the dependency file the tap hands over, parsed (MissCompileResult.depFile), without reading it back nor parsing it again", async () => {
    const cache = join(tmp, "cache-given-deps");
    const header = join(proj, "handed.h");
    writeFileSync(header, "v1\n");
    // The file on disk and the text handed over name the source only, the parse handed over a header too: only so the
    // test can tell which the store took (a real tap hands over the file it wrote, and its parse).
    const { service, stats } = setup(async (ctx) => {
      const done = remoteCompile(ctx, "remote\n");
      const text = readFileSync(ctx.invocation.dependencies.depFile!, "utf8");
      return { ...done, stdout: Buffer.alloc(0), depFile: { text, contents: { files: [ctx.invocation.sourceFile, header], env: [] } } };
    });
    await service.run(request(cache));
    await service.settle();
    writeFileSync(header, "v2\n");
    await service.run(request(cache));
    await service.settle();
    expect(stats.snapshot()).toMatchObject({ misses: 2, hitsDirect: 0 });
    rmSync(header);
  });

  describe("a call with a dependency scan (gcc's -MMD)", () => {
    const scanSetup = (tap: (ctx: MissContext) => Promise<MissCompileResult | undefined>, exitCode = 0) => {
      const dir = mkdtempSync(join(tmp, "scan-"));
      const scanner = join(dir, "scanner");
      const counter = join(dir, "runs");
      writeFileSync(scanner, `#!/bin/sh\necho run >> "$2"\necho "a.out: a.src scanned.h" > "$1"\nexit ${exitCode}\n`);
      chmodSync(scanner, 0o755);
      const runs = () => readFileSync(counter, "utf8").split("\n").filter(Boolean).length;
      return { ...setup(tap, 2, { scanner, counter }), runs };
    };

    it("a tap that asks for it gets its list, and the engine takes the same run: the call scans once", async () => {
      const lists: (string | undefined)[] = [];
      const { service, stats, runs } = scanSetup(async (ctx) => {
        lists.push(await ctx.dependencyScan?.());
        lists.push(await ctx.dependencyScan?.());
        return remoteCompile(ctx, "remote\n");
      });
      const r = await service.run(request());
      await service.settle();
      expect(r.kind).toBe("done");
      expect(lists).toEqual(["a.out: a.src scanned.h\n", "a.out: a.src scanned.h\n"]);
      expect(runs()).toBe(1);
      expect(stats.snapshot().dependencyLists).toMatchObject({ scans: 1, sharedWithJob: 1 });
    });

    it("without a tap asking, the engine scans once on its own", async () => {
      const { service, stats, runs } = scanSetup(async (ctx) => remoteCompile(ctx, "remote\n"));
      await service.run(request());
      await service.settle();
      expect(runs()).toBe(1);
      expect(stats.snapshot().dependencyLists.sharedWithJob ?? 0).toBe(0);
    });

    it.each([
      ["the list its job was made from (the shared scan): recorded", "dependency-scan" as const, { misses: 1, hitsDirect: 1 }],
      ["a list made apart from its job: the store hashes the files itself, and an edit during the compile keeps the entry out", "own" as const, { misses: 2, hitsDirect: 0 }],
    ])("a tap's carried digests go with %s", async (_what, listedBy, expected) => {
      const header = join(proj, "scanned.h");
      writeFileSync(header, "v1\n");
      const cache = join(tmp, `cache-scan-${listedBy}`);
      const { service, stats } = scanSetup(async (ctx) => {
        if (listedBy === "dependency-scan") await ctx.dependencyScan?.();
        const tokens = ctx.fileHashes!.tokens;
        const digests = new Map<string, FileDigest>();
        for (const path of [ctx.invocation.sourceFile, header]) digests.set(path, (await ctx.fileHashes!.cache.digest(path, tokens))!);
        writeFileSync(header, "v2, edited while the job ran\n");
        return { ...remoteCompile(ctx, "remote\n"), stdout: Buffer.alloc(0), inputs: { tokens: [...tokens], digests, listedBy } };
      });
      await service.run(request(cache));
      await service.settle();
      writeFileSync(header, "v1\n");
      await service.run(request(cache));
      await service.settle();
      expect(stats.snapshot()).toMatchObject(expected);
      rmSync(header);
    });

    it("a failing scan gives the tap no list", async () => {
      const lists: (string | undefined)[] = [];
      const { service } = scanSetup(async (ctx) => {
        lists.push(await ctx.dependencyScan?.());
        return undefined;
      }, 1);
      const r = await service.run(request());
      await service.settle();
      expect(r.kind).toBe("done");
      expect(lists).toEqual([undefined]);
    });
  });
});
