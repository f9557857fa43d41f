/** Declared toolchain archives (config dist.toolchains): what is offered and what is refused, with real archives of this machine's compilers. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, Logger, type CompilerInfo, type EngineSetup, packageCompilerToolchain } from "@reprise/core";
import { DeclaredToolchains } from "../../src/client/declared-toolchains.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-declared-"));
let setup: EngineSetup;
let clang: CompilerInfo;
let clangArchive: string;
const warnings: string[] = [];
const logger = new Logger("warn", { write: (line: string) => void warnings.push(line) });

beforeAll(async () => {
  setup = await createEngine({ cwd: dir, env: { PATH: "/usr/bin:/bin" } });
  clang = (await setup.detector.detect("/usr/bin/clang-14", { PATH: "/usr/bin:/bin" }))!;
  clangArchive = join(dir, "clang.tar.gz");
  const written = await packageCompilerToolchain(setup.engine, clang, clangArchive, undefined, { targets: ["x86_64-pc-linux-gnu", "aarch64-unknown-linux-gnu"] });
  expect(written.manifest.equivalences?.map((e) => e.target)).toEqual(["x86_64-pc-linux-gnu", "aarch64-unknown-linux-gnu"]);
}, 240_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("declared toolchains", () => {
  it("offers an archive of the same build, its host platform read from its programs", async () => {
    const portable = (await setup.engine.hooks.portableToolchain.promise({ compiler: clang, target: clang.target! }))!;
    const usable = await new DeclaredToolchains().usable(clang, portable, [clangArchive], logger);
    expect(usable).toHaveLength(1);
    expect(usable[0]!.runsOn).toEqual([{ arch: "x86_64", os: "linux", bits: 64 }]);
    expect(usable[0]!.compilerPath).toBe("/usr/bin/clang-14");
    expect(usable[0]!.id).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses another build, another target, another family and a missing file, each once with its reason", async () => {
    const declared = new DeclaredToolchains();
    const portable = (await setup.engine.hooks.portableToolchain.promise({ compiler: clang, target: clang.target! }))!;
    expect(await declared.usable(clang, { ...portable, equivalence: "0".repeat(64) }, [clangArchive], logger)).toEqual([]);
    expect(await declared.usable({ ...clang, target: "riscv64-unknown-linux-gnu" }, portable, [clangArchive], logger)).toEqual([]);
    expect(await declared.usable({ ...clang, family: "gcc" }, portable, [clangArchive], logger)).toEqual([]);
    expect(await declared.usable(clang, portable, [join(dir, "nope.tar.gz")], logger)).toEqual([]);
    expect(await declared.usable(clang, portable, [join(dir, "nope.tar.gz")], logger)).toEqual([]);
    const text = warnings.join("\n");
    expect(text).toContain("another build than /usr/bin/clang-14");
    expect(text).toContain("not packaged for this compiler's target riscv64-unknown-linux-gnu (only for x86_64-pc-linux-gnu, aarch64-unknown-linux-gnu)");
    expect(text).toContain("it holds a clang compiler, not gcc");
    expect(warnings.filter((w) => w.includes("nope.tar.gz"))).toHaveLength(1);
  });
});
