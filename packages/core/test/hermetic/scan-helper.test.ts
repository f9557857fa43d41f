import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScanHelper } from "../../src/hermetic/scan-helper.js";

/**
 * Closure scans run from a small helper process (a fork from the large daemon
 * costs CPU in proportion to its memory); when the helper is not there the
 * caller spawns the scan itself, so a scan never fails because of it.
 */

let tmp: string;
const env = { PATH: "/usr/bin:/bin" };

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "reprise-scan-helper-"));
  writeFileSync(join(tmp, "a.h"), "#define A 1\n");
  writeFileSync(join(tmp, "main.c"), '#include "a.h"\nint m(void) { return A; }\n');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("ScanHelper", () => {
  it("runs scans in its own process, in the call's directory and environment, each answered with its own status", async () => {
    const helper = new ScanHelper();
    try {
      const dep = join(tmp, "scan.d");
      const ok = await helper.run(["gcc", "-M", "-MF", dep, "main.c"], tmp, env);
      expect(ok?.exitCode).toBe(0);
      expect(readFileSync(dep, "utf8")).toContain("a.h");
      // The helper is the scan's parent, not this process; the environment is the call's alone.
      const who = await helper.run(["/bin/sh", "-c", 'echo "$PPID $MARK $(pwd)" >&2; exit 3'], tmp, { ...env, MARK: "m1" });
      expect(who?.exitCode).toBe(3);
      const [ppid, mark, cwd] = who!.stderr.trim().split(" ");
      expect(Number(ppid)).not.toBe(process.pid);
      expect(mark).toBe("m1");
      expect(cwd).toBe(tmp);
      const many = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => helper.run(["/bin/sh", "-c", `exit ${i}`], tmp, env)));
      expect(many.map((r) => r?.exitCode)).toEqual([0, 1, 2, 3, 4, 5]);
      const missing = await helper.run([join(tmp, "no-such-compiler"), "-M"], tmp, env);
      expect(missing?.exitCode).toBe(127);
    } finally {
      helper.stop();
    }
  });

  it("answers undefined for scans under way when the helper dies (the caller then spawns them itself), says so, and starts a new one for the next", async () => {
    const helper = new ScanHelper();
    const lost: string[] = [];
    helper.onLost = (detail) => lost.push(detail);
    try {
      const pidFile = join(tmp, "helper.pid");
      const waiting = helper.run(["/bin/sh", "-c", `echo "$PPID $$" > ${pidFile}; exec sleep 30`], tmp, env);
      const deadline = Date.now() + 30_000;
      let pid = "";
      while (!pid && Date.now() < deadline) {
        try {
          pid = readFileSync(pidFile, "utf8").trim();
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      expect(pid).not.toBe("");
      const [helperPid, scanPid] = pid.split(" ").map(Number);
      process.kill(helperPid!, "SIGKILL");
      expect(await waiting).toBeUndefined();
      expect(lost, "the loss is reported (the daemon logs it)").toEqual([expect.stringContaining("SIGKILL")]);
      process.kill(scanPid!, "SIGKILL");
      const next = await helper.run(["/bin/sh", "-c", "exit 0"], tmp, env);
      expect(next?.exitCode).toBe(0);
    } finally {
      helper.stop();
    }
  }, 60_000);
});
