import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KeyHasher, type KeyContext } from "@reprise/core";
import { RustNativeCpuResolver, usesNativeCpu } from "../src/native-cpu.js";

const QEMU = "/usr/bin/qemu-x86_64-static";

/** The real rustc (not rustup's proxy) run under qemu-user, whose QEMU_CPU model is the CPU it sees. */
function rustcOnEmulatedCpu(): string {
  if (!existsSync(QEMU)) throw new Error(`${QEMU} is missing: apt-get install qemu-user-static`);
  const real = execFileSync("rustup", ["which", "rustc"], { encoding: "utf8" }).trim();
  const script = join(mkdtempSync(join(tmpdir(), "reprise-qemu-rustc-")), "rustc");
  writeFileSync(script, `#!/bin/sh\nexec ${QEMU} ${real} "$@"\n`);
  chmodSync(script, 0o755);
  return script;
}

function context(rustc: string, keyArgs: string[], env: Record<string, string>): KeyContext {
  return {
    request: { argv: [rustc, ...keyArgs], cwd: "/", env: { ...(process.env as Record<string, string>), ...env }, stdoutIsTTY: false, stderrIsTTY: false },
    compiler: { family: "rustc", path: rustc, identity: `identity of ${rustc}` } as KeyContext["compiler"],
    invocation: { keyArgs, compileArgv: [rustc, ...keyArgs] } as KeyContext["invocation"],
    mode: "direct",
    digestFile: async () => undefined,
  };
}

async function keyOf(ctx: KeyContext): Promise<string> {
  const h = new KeyHasher();
  await new RustNativeCpuResolver().extendKey(h, ctx);
  return h.digest();
}

describe("rustc -C target-cpu=native", () => {
  it("is recognised in its spellings", () => {
    expect(usesNativeCpu(["-C", "target-cpu=native"])).toBe(true);
    expect(usesNativeCpu(["--codegen", "target_cpu=native"])).toBe(true);
    expect(usesNativeCpu(["-C", "target-cpu=skylake"])).toBe(false);
    expect(usesNativeCpu(["target-cpu=native"])).toBe(false);
  });

  it("is keyed by the CPU and features it stands for", async () => {
    const rustc = rustcOnEmulatedCpu();
    const args = ["--crate-name", "x", "-C", "target-cpu=native"];
    const nehalem = await keyOf(context(rustc, args, { QEMU_CPU: "Nehalem" }));
    const skylake = await keyOf(context(rustc, args, { QEMU_CPU: "Skylake-Client" }));
    expect(nehalem).not.toBe(skylake);
    expect(await keyOf(context(rustc, args, { QEMU_CPU: "Nehalem" }))).toBe(nehalem);
    expect(await keyOf(context(rustc, ["--crate-name", "x"], { QEMU_CPU: "Nehalem" }))).toBe(new KeyHasher().digest());
  });
});
