import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { terminalProgress } from "../../src/cli/progress.js";

/**
 * `reprise --package-toolchain` takes seconds: on a terminal it shows what
 * it is doing on stderr, rewritten in place; off a terminal it prints
 * nothing there. Run for real with gcc, through a pty made by `script`.
 */

const REPRISE = resolve(import.meta.dirname, "../../dist/bin/reprise.js");
const dir = mkdtempSync(join(tmpdir(), "reprise-progress-"));
const env = { ...process.env, REPRISE_RUNTIME_DIR: join(dir, "run"), REPRISE_DIR: join(dir, "cache"), TERM: "xterm" };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("--package-toolchain progress", () => {
  it("off a terminal: nothing on stderr, the summary on stdout", async () => {
    const r = await execa(process.execPath, [REPRISE, "--package-toolchain", "gcc", "quiet.tar.gz"], { cwd: dir, env, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^Wrote .*quiet\.tar\.gz/);
  }, 180_000);

  it("on a terminal: each step and the bytes packed, on one line erased at the end", async () => {
    expect(() => execFileSync("sh", ["-c", "command -v script"]), "script (util-linux) is missing").not.toThrow();
    // stdout to a file, so what the pty shows is stderr alone.
    const cmd = `'${process.execPath}' '${REPRISE}' --package-toolchain gcc tty.tar.gz > summary.txt`;
    const r = await execa("script", ["-qec", cmd, "/dev/null"], { cwd: dir, env, reject: false, stripFinalNewline: false });
    expect(r.exitCode, r.stdout).toBe(0);
    const shown = r.stdout;
    expect(shown).toContain("\r\x1b[Kreprise: identifying ");
    expect(shown).toMatch(/\r\x1b\[Kreprise: finding every file gcc \d+\.\d+\.\d+ runs and loads…/);
    expect(shown).toMatch(/\r\x1b\[Kreprise: packing \d+ entries…/);
    expect(shown).toMatch(/\r\x1b\[Kreprise: packing [\d.]+ (B|KiB|MiB) of [\d.]+ MiB \(\d+ %\)/);
    expect(shown.endsWith("\r\x1b[K")).toBe(true);
    expect(shown).not.toContain("\n");
    expect(existsSync(join(dir, "tty.tar.gz"))).toBe(true);
  }, 180_000);

  it("terminalProgress draws nothing for a stream that is not a terminal", () => {
    const written: string[] = [];
    const p = terminalProgress({ isTTY: false, write: (s: string) => written.push(s) });
    p.step("a");
    p.update("b");
    p.done();
    expect(written).toEqual([]);
    const tty = terminalProgress({ isTTY: true, columns: 30, write: (s: string) => written.push(s) }, 0);
    tty.step("a step whose text is longer than the terminal is wide");
    tty.done();
    expect(written).toEqual(["\r\x1b[Ka step whose text is longer …", "\r\x1b[K"]);
  });
});
