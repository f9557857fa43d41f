import { describe, expect, it } from "vitest";
import { arch } from "node:process";
import { hostPlatform, normaliseArch, normalisePlatform, platformKey, samePlatform } from "../src/platform.js";

describe("platform names", () => {
  it("maps Node's, uname's and Debian's spellings to the ELF/GNU one", () => {
    expect(["x64", "amd64", "x86_64", "X86_64"].map(normaliseArch)).toEqual(["x86_64", "x86_64", "x86_64", "x86_64"]);
    expect(["arm64", "aarch64"].map(normaliseArch)).toEqual(["aarch64", "aarch64"]);
    expect(["arm", "armv7l", "armhf", "armv6l"].map(normaliseArch)).toEqual(["arm", "arm", "arm", "arm"]);
    expect(["ia32", "i686"].map(normaliseArch)).toEqual(["i386", "i386"]);
    expect(normaliseArch("riscv64")).toBe("riscv64");
  });

  it("fills in the word size and keys pools by os/arch", () => {
    expect(normalisePlatform({ arch: "arm64", os: "Linux" })).toEqual({ arch: "aarch64", os: "linux", bits: 64 });
    expect(normalisePlatform({ arch: "armv7l", os: "linux" })).toEqual({ arch: "arm", os: "linux", bits: 32 });
    expect(platformKey({ arch: "x64", os: "linux" })).toBe("linux/x86_64");
    expect(samePlatform({ arch: "arm64", os: "linux" }, { arch: "aarch64", os: "linux", bits: 64 })).toBe(true);
    expect(samePlatform({ arch: "arm64", os: "linux" }, { arch: "x86_64", os: "linux" })).toBe(false);
  });

  it("describes this host from Node itself", () => {
    expect(hostPlatform().arch).toBe(normaliseArch(arch));
    expect(hostPlatform().os).toBe(process.platform);
  });
});

describe("no default architecture", () => {
  it("names x86_64 nowhere in the farm's code but the alias table", async () => {
    const { readdirSync, readFileSync, statSync } = await import("node:fs");
    const { join } = await import("node:path");
    const root = join(import.meta.dirname, "../src");
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith(".ts") && !path.endsWith("/platform.ts") && /x86_64|amd64|\bx64\b/.test(readFileSync(path, "utf8"))) offenders.push(path);
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
