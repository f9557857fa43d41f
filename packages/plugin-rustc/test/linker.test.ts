import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inspectLinker, LinkerError, linkerScriptNames, LinkerSetups } from "../src/linker.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-linker-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PATH = process.env.PATH;

describe("the linker a Rust link uses", () => {
  it("cc: the driver, collect2/ld, the crt objects, libc and libgcc files and what their linker scripts name", async () => {
    const s = await inspectLinker("cc", { cwd: "/", pathEnv: PATH });
    expect(s.driver).toMatch(/\/cc$/);
    expect(s.versionLine).toMatch(/^cc /);
    expect(s.programs.some((p) => p.endsWith("/collect2"))).toBe(true);
    for (const name of ["Scrt1.o", "crti.o", "crtn.o", "crtbeginS.o", "crtendS.o", "libc.so", "libc_nonshared.a", "libgcc_s.so", "libgcc.a"]) {
      expect(s.files.some((f) => f.endsWith(`/${name}`)), name).toBe(true);
    }
    // libc.so is a linker script: the shared objects it names are read by the link.
    expect(s.files.some((f) => /\/libc\.so\.6$/.test(f))).toBe(true);
    expect(s.files.some((f) => /\/ld-linux-x86-64\.so\.2$/.test(f))).toBe(true);
    expect(s.identity).toMatch(/^[0-9a-f]{32}$/);
    expect((await inspectLinker("cc", { cwd: "/", pathEnv: PATH })).identity).toBe(s.identity);
  });

  it("another driver (clang) has another identity", async () => {
    const [cc, clang] = await Promise.all([inspectLinker("cc", { cwd: "/", pathEnv: PATH }), inspectLinker("clang", { cwd: "/", pathEnv: PATH })]);
    expect(clang.identity).not.toBe(cc.identity);
  });

  it("a wrapper script cannot be described; a missing linker neither", async () => {
    const script = join(dir, "my-linker");
    writeFileSync(script, "#!/bin/sh\nexec cc \"$@\"\n");
    chmodSync(script, 0o755);
    await expect(inspectLinker(script, { cwd: "/", pathEnv: PATH })).rejects.toBeInstanceOf(LinkerError);
    await expect(inspectLinker("no-such-linker-here", { cwd: "/", pathEnv: PATH })).rejects.toThrow(/not on PATH/);
  });

  it("reads GNU ld scripts", () => {
    const text = "/* GNU ld script */\nOUTPUT_FORMAT(elf64-x86-64)\nGROUP ( /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc_nonshared.a  AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) )\n";
    expect(linkerScriptNames(text).paths).toEqual(["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc_nonshared.a", "/lib64/ld-linux-x86-64.so.2"]);
    expect(linkerScriptNames("GROUP ( libgcc_s.so.1 -lgcc )")).toEqual({ paths: [], names: ["libgcc_s.so.1", "libgcc.so", "libgcc.a"] });
  });

  it("LinkerSetups inspects once per linker and PATH, and again when one of its files changed", async () => {
    const setups = new LinkerSetups();
    const a = setups.get("cc", { cwd: "/", pathEnv: PATH });
    expect(setups.get("cc", { cwd: "/tmp", pathEnv: PATH })).toBe(a);
    await a;
    expect(setups.get("cc", { cwd: "/", pathEnv: PATH })).toBe(a);
    // A driver of our own (a copy of gcc): touching it is a changed linker.
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    copyFileSync(realpathSync(execFileSync("sh", ["-c", "command -v gcc"], { encoding: "utf8" }).trim()), join(bin, "mycc"));
    chmodSync(join(bin, "mycc"), 0o755);
    const own = { cwd: "/", pathEnv: `${bin}:${PATH}` };
    const first = await setups.get("mycc", own);
    expect(first.driver).toBe(join(bin, "mycc"));
    expect(await setups.get("mycc", own)).toBe(first);
    utimesSync(join(bin, "mycc"), new Date(), new Date(Date.now() - 3_600_000));
    expect(await setups.get("mycc", own)).not.toBe(first);
  });
});
