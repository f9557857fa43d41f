import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
 * `CompileInvocation.compileEnv`: a plugin may give the compile the engine
 * runs on a miss another environment than the caller's (rustc must not see
 * cargo's jobserver file descriptors, which only cargo's children hold).
 * A real CompileService with a tiny shell "compiler" that writes one
 * variable into its output.
 */

let tmp: string;
let proj: string;
let compiler: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "reprise-compile-env-"));
  proj = join(tmp, "proj");
  mkdirSync(proj);
  compiler = join(tmp, "envcc");
  // envcc SRC OUT DEP: writes $ENV_PROBE (or "unset") to OUT and a dependency file naming SRC.
  writeFileSync(compiler, `#!/bin/sh\necho "\${ENV_PROBE-unset}" > "$2"\necho "$2: $1" > "$3"\n`);
  chmodSync(compiler, 0o755);
  writeFileSync(join(proj, "a.src"), "source\n");
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function service(compileEnv: (env: Readonly<Record<string, string>>) => Record<string, string> | undefined) {
  const engine = new Engine();
  engine.use(localStoragePlugin);
  engine.use({
    name: "envcc",
    apply(e) {
      e.hooks.detectCompiler.tapPromise("envcc", async (probe) =>
        probe.invokedName === "envcc" ? { family: "envcc", path: probe.path, realPath: probe.realPath, version: "1", versionText: "envcc 1" } : undefined,
      );
      e.hooks.parseArguments.for("envcc").tap("envcc", (input) => {
        const [, src, out] = input.argv as [string, string, string];
        const dep = input.tempPath(".d");
        const inv: CompileInvocation = {
          language: "envcc",
          sourceFile: join(input.cwd, src),
          outputs: [{ role: "out", path: join(input.cwd, out) }],
          keyArgs: [src, out],
          preprocessorOnlyArgs: [],
          compileArgv: [input.argv[0]!, src, out, dep],
          dependencies: { depFile: dep, depFileIsTemporary: true },
          keyEnv: [],
          volatileMarkers: [],
          dependsOnCwd: false,
          colorDiagnostics: false,
          extraInputFiles: [],
          ...(compileEnv(input.env) ? { compileEnv: compileEnv(input.env) } : {}),
        };
        return { cacheable: true, invocation: inv };
      });
    },
  });
  const hashes = new FileHashCache();
  const tempDir = mkdtempSync(join(tmp, "t-"));
  const project = { engine, detector: new CompilerDetector(engine, hashes), storages: new StorageRegistry(engine) };
  return new CompileService({
    settings: new SettingsLoader(),
    projects: { for: async () => project },
    hashes,
    stats: new Stats(),
    limit: pLimit(2),
    selfPaths: new Set(),
    tempDir,
    logger: silentLogger,
  });
}

function request(env: Record<string, string>): CompileRequest {
  return {
    argv: [compiler, "a.src", "a.out"],
    cwd: proj,
    env: { PATH: "/usr/bin:/bin", HOME: tmp, REPRISE_DIR: join(tmp, `cache-${Math.random()}`), ...env },
    stdoutIsTTY: false,
    stderrIsTTY: false,
  };
}

describe("CompileInvocation.compileEnv", () => {
  it("absent: the compile runs with the caller's environment", async () => {
    const r = await service(() => undefined).run(request({ ENV_PROBE: "from-caller" }));
    expect(r.kind).toBe("done");
    expect(readFileSync(join(proj, "a.out"), "utf8")).toBe("from-caller\n");
  });

  it("given: the compile runs with it, and the caller's environment is left alone", async () => {
    const req = request({ ENV_PROBE: "from-caller" });
    const before = { ...req.env };
    const r = await service((env) => {
      const { ENV_PROBE: _dropped, ...rest } = env;
      return rest;
    }).run(req);
    expect(r.kind).toBe("done");
    expect(readFileSync(join(proj, "a.out"), "utf8")).toBe("unset\n");
    expect(req.env).toEqual(before);
  });
});
