import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KeyHasher, type KeyContext } from "@reprise/core";
import { cpuOptionsFromVerbose, NativeCpuResolver, nativeCpuFlags } from "../src/native-cpu.js";

const QEMU = "/usr/bin/qemu-x86_64-static";

function verbose(compiler: string, flags: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(compiler, [...flags, "-E", "-v", "-x", "c", "/dev/null", "-o", "/dev/null"], { env: { ...process.env, ...env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${compiler} failed: ${r.stderr}`);
  return r.stderr;
}

function context(compiler: string, keyArgs: string[], env: Record<string, string> = {}): KeyContext {
  return {
    request: { argv: [compiler, ...keyArgs], cwd: "/", env: { ...(process.env as Record<string, string>), ...env }, stdoutIsTTY: false, stderrIsTTY: false },
    compiler: { path: compiler, identity: `identity of ${compiler}` } as KeyContext["compiler"],
    invocation: { keyArgs, compileArgv: [compiler, ...keyArgs] } as KeyContext["invocation"],
    mode: "direct",
  };
}

async function keyOf(resolver: NativeCpuResolver, ctx: KeyContext): Promise<string> {
  const h = new KeyHasher();
  await resolver.extendKey(h, ctx);
  return h.digest();
}

/** gcc whose driver (which resolves -march=native) runs on the CPU QEMU_CPU names. */
function gccOnEmulatedCpu(): string {
  if (!existsSync(QEMU)) throw new Error(`${QEMU} is missing: apt-get install qemu-user-static`);
  const script = join(mkdtempSync(join(tmpdir(), "reprise-qemu-gcc-")), "gcc");
  writeFileSync(script, `#!/bin/sh\nexec ${QEMU} /usr/bin/gcc "$@"\n`);
  chmodSync(script, 0o755);
  return script;
}

describe("-march=native and friends", () => {
  it("finds the native flags among the arguments", () => {
    expect(nativeCpuFlags(["-O2", "-march=native", "-mtune=native", "-mcpu=native", "-march=x86-64"])).toEqual(["-march=native", "-mtune=native", "-mcpu=native"]);
  });

  it("reads the CPU gcc's driver resolved -march=native to, from its cc1 line", () => {
    const options = cpuOptionsFromVerbose(verbose("gcc", ["-march=native"]))!;
    expect(options.find((o) => o.startsWith("-march="))).toMatch(/^-march=(?!native)/);
    expect(options).toContain("--param");
  });

  it("reads the CPU clang resolved -march=native to, from its -cc1 line", () => {
    const options = cpuOptionsFromVerbose(verbose("clang", ["-march=native"]))!;
    const cpu = options[options.indexOf("-target-cpu") + 1];
    expect(cpu).toBeTruthy();
    expect(cpu).not.toBe("native");
  });

  it("the key names the CPU: another CPU gives another key, the same CPU the same key, no native flag adds nothing", async () => {
    const gcc = gccOnEmulatedCpu();
    const args = ["-O2", "-march=native"];
    const nehalem = await keyOf(new NativeCpuResolver(), context(gcc, args, { QEMU_CPU: "Nehalem" }));
    const skylake = await keyOf(new NativeCpuResolver(), context(gcc, args, { QEMU_CPU: "Skylake-Client" }));
    const nehalemAgain = await keyOf(new NativeCpuResolver(), context(gcc, args, { QEMU_CPU: "Nehalem" }));
    expect(nehalem).not.toBe(skylake);
    expect(nehalemAgain).toBe(nehalem);
    expect(await keyOf(new NativeCpuResolver(), context("gcc", ["-O2"]))).toBe(new KeyHasher().digest());
  });

  it("a compiler that cannot say what native means makes the key fail, never silently match", async () => {
    await expect(keyOf(new NativeCpuResolver(), context("/bin/false", ["-march=native"]))).rejects.toThrow(/cannot resolve -march=native/);
  });
});
