// The sandboxes' job launcher (`reprise-native --spawn-helper` with fd 3, cgroup joins, rlimits and kills):
// what it starts gets exactly what it was asked for, a kill ends it, and a dead helper is replaced a few times,
// then jobs are left to the caller (counted). Real processes and a real cgroup throughout.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobLauncher, LauncherLost, type LaunchRequest } from "../../src/sandbox/kit/job-launcher.js";

const BUILT = resolve(import.meta.dirname, "../../dist/native/reprise-native");
const ENV = { PATH: "/usr/bin:/bin", LC_ALL: "C" };

let root: string;
let n = 0;
beforeAll(() => {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run npm run build first`);
  root = mkdtempSync(join(tmpdir(), "reprise-job-launcher-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A request for `sh -c script` with fresh stream and fd 3 files. */
function shell(script: string, extra: Partial<LaunchRequest> = {}): LaunchRequest & { read(): { out: string; err: string; fd3: string } } {
  const dir = join(root, String(++n));
  mkdirSync(dir);
  const files = { stdoutPath: join(dir, "out"), stderrPath: join(dir, "err"), fd3Path: join(dir, "fd3") };
  const text = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : "");
  return { argv: ["sh", "-c", script], cwd: dir, env: ENV, ...files, ...extra, read: () => ({ out: text(files.stdoutPath), err: text(files.stderrPath), fd3: text(files.fd3Path) }) };
}

/** The pids cgroup this process is in (cgroup v1 here, or v2), where a test cgroup can be made. */
function pidsCgroupDir(): string {
  const own = readFileSync("/proc/self/cgroup", "utf8");
  const v1 = /^\d+:[^:]*\bpids\b[^:]*:(.*)$/m.exec(own)?.[1];
  if (v1 !== undefined && existsSync("/sys/fs/cgroup/pids")) return `/sys/fs/cgroup/pids${v1}`;
  return `/sys/fs/cgroup${/^0::(.*)$/m.exec(own)?.[1] ?? "/"}`;
}

describe("job launcher", () => {
  it("runs a command with its cwd, environment, stdout, stderr, fd 3 and exit status; a signal and a failed exec are told apart", async () => {
    const launcher = new JobLauncher(BUILT);
    const r = shell('pwd; echo "$LC_ALL"; echo oops >&2; echo status >&3; exit 7');
    expect(await launcher.launch(r)!.ended).toEqual({ kind: "exited", code: 7 });
    expect(r.read()).toEqual({ out: `${r.cwd}\nC\n`, err: "oops\n", fd3: "status\n" });
    expect(await launcher.launch(shell("kill -TERM $$"))!.ended).toEqual({ kind: "signaled", signal: 15 });
    expect(await launcher.launch({ ...shell(""), argv: ["/nonexistent/program"] })!.ended).toEqual({ kind: "not-started", errno: 2 });
    // Without fd 3 asked for, the command has none.
    expect(await launcher.launch({ ...shell("echo x >&3"), fd3Path: undefined } as LaunchRequest)!.ended).toEqual({ kind: "exited", code: 2 });
    expect([launcher.launched, launcher.fallbacks]).toEqual([4, 0]);
    launcher.close();
  });

  it("sets the rlimits to the byte and joins the cgroups before the exec; a cgroup it cannot join is a failed start", async () => {
    const launcher = new JobLauncher(BUILT);
    const cgroup = join(pidsCgroupDir(), `reprise-launcher-test-${process.pid}`);
    mkdirSync(cgroup);
    try {
      const r = shell("cat /proc/self/cgroup; grep -E '^Max (file size|core file size|address space)' /proc/self/limits | tr -s ' '", {
        cgroupProcs: [join(cgroup, "cgroup.procs")],
        rlimits: { fileBytes: 123_457, addressSpaceBytes: 1 << 30 },
      });
      expect(await launcher.launch(r)!.ended).toEqual({ kind: "exited", code: 0 });
      const out = r.read().out;
      expect(out).toContain(`reprise-launcher-test-${process.pid}\n`);
      expect(out).toContain(`Max file size 123457 123457 bytes \nMax core file size 0 0 bytes \nMax address space ${1 << 30} ${1 << 30} bytes \n`);
      // A file past RLIMIT_FSIZE: the write fails and the command gets SIGXFSZ.
      const big = shell("exec head -c 200000 /dev/zero", { rlimits: { fileBytes: 100_000 } });
      expect(await launcher.launch(big)!.ended).toEqual({ kind: "signaled", signal: 25 });
      expect(readFileSync(big.stdoutPath).length).toBe(100_000);
      expect(await launcher.launch(shell("true", { cgroupProcs: [join(root, "no-such-cgroup", "cgroup.procs")] }))!.ended).toEqual({ kind: "not-started", errno: 2 });
    } finally {
      rmdirSync(cgroup);
    }
    launcher.close();
  });

  it("kills a running command on request; a kill after its end does nothing", async () => {
    const launcher = new JobLauncher(BUILT);
    const r = shell("echo started; exec sleep 600");
    const job = launcher.launch(r)!;
    for (let i = 0; i < 600 && !r.read().out; i++) await new Promise((ok) => setTimeout(ok, 50));
    expect(r.read().out).toBe("started\n");
    job.kill();
    expect(await job.ended).toEqual({ kind: "signaled", signal: 9 });
    job.kill();
    const after = launcher.launch(shell("echo fine"))!;
    expect(await after.ended).toEqual({ kind: "exited", code: 0 });
    launcher.close();
  });

  it("ends the jobs of a helper that died with LauncherLost, starts a new one for the next job, and after 3 deaths leaves jobs to the caller (counted)", async () => {
    const launcher = new JobLauncher(BUILT);
    const pids: number[] = [];
    for (let death = 1; death <= 4; death++) {
      const r = shell("echo started; exec sleep 600");
      const job = launcher.launch(r)!;
      expect(job, `launch after ${death - 1} deaths`).toBeDefined();
      for (let i = 0; i < 600 && !r.read().out; i++) await new Promise((ok) => setTimeout(ok, 50));
      pids.push(launcher.pid!);
      process.kill(launcher.pid!, "SIGKILL");
      await expect(job.ended).rejects.toBeInstanceOf(LauncherLost);
    }
    expect(new Set(pids).size).toBe(4);
    expect(launcher.restarts).toBe(4);
    expect(launcher.unavailable).toMatch(/3 times restarted/);
    expect(launcher.launch(shell("true"))).toBeUndefined();
    expect([launcher.launched, launcher.fallbacks]).toEqual([4, 1]);
  });

  it("is unavailable without a native helper, and refuses a field holding a NUL (the caller spawns those itself)", () => {
    const none = new JobLauncher(undefined);
    expect(none.unavailable).toMatch(/no native/);
    expect(none.launch(shell("true"))).toBeUndefined();
    const launcher = new JobLauncher(BUILT);
    expect(launcher.launch({ ...shell("true"), env: { A: "x\0y" } })).toBeUndefined();
    expect([none.fallbacks, launcher.fallbacks]).toEqual([1, 1]);
    launcher.close();
  });
});
