// Job cgroups a killed daemon or builder left behind: the next plan kills what still runs in them and removes
// them (a bwrap killed while setting up its sandbox leaves its child waiting forever). Real cgroups and processes.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planJobCgroups } from "../../src/sandbox/kit/cgroup.js";

describe("job cgroups left by a process that is gone", () => {
  it("are emptied (SIGKILL) and removed by the next plan; one whose owner still runs is left alone", async () => {
    const first = planJobCgroups();
    expect(typeof first, String(first)).toBe("object");
    const parent = (first as Exclude<typeof first, string>).controllers.find((c) => c.controller === "pids")!.parent;
    const gonePid = spawnSync("true").pid!;
    const stale = join(parent, `reprise-job-${gonePid}-1-test`);
    const owned = join(parent, `reprise-job-${process.pid}-999999-test`);
    mkdirSync(stale);
    mkdirSync(owned);
    const waiting = spawn("sleep", ["600"], { stdio: "ignore" });
    try {
      writeFileSync(join(stale, "cgroup.procs"), String(waiting.pid));
      const ended = new Promise<string>((resolve) => waiting.on("exit", (_code, signal) => resolve(String(signal))));
      planJobCgroups();
      const outcome = await Promise.race([ended, new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 5000))]);
      expect(outcome).toBe("SIGKILL");
      expect(existsSync(stale), "the stale cgroup is removed").toBe(false);
      expect(existsSync(owned), "a cgroup of a live owner stays").toBe(true);
    } finally {
      waiting.kill("SIGKILL");
      for (const dir of [owned, stale]) {
        for (let i = 0; i < 50 && existsSync(dir); i++) {
          try {
            rmdirSync(dir);
          } catch {
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }
    }
  });
});
