/** clang across hosts (docs/cross-arch.md): the equivalence value and the retargeted job, with the real clang 14. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine } from "@reprise/core";
import clangPlugin, { clangEquivalence, hostIndependentVersion } from "../src/index.js";

const CLANG = "/usr/bin/clang-14";
const versionText = execFileSync(CLANG, ["--version"], { encoding: "utf8" });
const dir = mkdtempSync(join(tmpdir(), "reprise-clang-portable-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("clang portable toolchain", () => {
  it("keeps release, vendor and thread model, drops what names this host", () => {
    const v = hostIndependentVersion(versionText);
    expect(v).toMatch(/^Debian clang version 14\.0\.6/);
    expect(v).toContain("Thread model: posix");
    expect(v).not.toMatch(/Target:|InstalledDir:/);
    expect(hostIndependentVersion(versionText.replace("x86_64-pc-linux-gnu", "aarch64-unknown-linux-gnu").replace("/usr/bin", "/opt/llvm/bin"))).toBe(v);
    // As detection records it: --version (its final newline stripped) then what -v says about this host's GCC installations.
    const verbose = execFileSync(CLANG, ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) || "";
    const detected = `${versionText.trimEnd()}\n${verbose}Found candidate GCC installation: /usr/lib/gcc/aarch64-linux-gnu/12\nSelected multilib: .;@m64`;
    expect(hostIndependentVersion(detected)).toBe(v);
  });

  it("an equivalence per target and per path, the same on every call", async () => {
    const a = await clangEquivalence({ path: CLANG, versionText }, "x86_64-pc-linux-gnu");
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await clangEquivalence({ path: CLANG, versionText }, "x86_64-pc-linux-gnu")).toBe(a);
    expect(await clangEquivalence({ path: CLANG, versionText }, "aarch64-unknown-linux-gnu")).not.toBe(a);
    // Another path: clang writes paths derived from argv[0] into debug info, so it is another toolchain.
    expect(await clangEquivalence({ path: "/usr/lib/llvm-14/bin/clang", versionText }, "x86_64-pc-linux-gnu")).not.toBe(a);
  });

  it("through the hook: --target for the client's triple and crtbegin.o; the retargeted C++ compile is byte-identical", async () => {
    const engine = new Engine();
    engine.use(clangPlugin);
    const compiler = { family: "clang", path: CLANG, realPath: CLANG, version: "14.0.6", versionText, target: "x86_64-pc-linux-gnu", identity: "x" };
    const p = await engine.hooks.portableToolchain.promise({ compiler, target: "x86_64-pc-linux-gnu" });
    expect(p?.targetArgs).toEqual(["--target=x86_64-pc-linux-gnu"]);
    expect(p?.files).toContain("/usr/lib/gcc/x86_64-linux-gnu/12/crtbegin.o");
    expect(await engine.hooks.portableToolchain.promise({ compiler: { ...compiler, family: "gcc" }, target: "x" })).toBeUndefined();
    writeFileSync(join(dir, "v.cpp"), "#include <vector>\n#include <string>\nstd::vector<std::string> f(int n) { return std::vector<std::string>(n, __FILE__); }\n");
    execFileSync(CLANG, ["-O2", "-g", "-c", "v.cpp", "-o", "plain.o"], { cwd: dir });
    execFileSync(CLANG, [...p!.targetArgs, "-O2", "-g", "-c", "v.cpp", "-o", "retargeted.o"], { cwd: dir });
    expect(readFileSync(join(dir, "retargeted.o")).equals(readFileSync(join(dir, "plain.o")))).toBe(true);
  });
});
