import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface PrivateDockerd {
  /** `unix://…` socket for `docker --host`. */
  host: string;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts Debian's dockerd (package docker.io) on a socket and data root of
 * its own, without touching the host's network (no bridge, no iptables), so
 * that the docker command line is tested against a real docker engine while
 * `docker` on the default socket stays as it was. Throws with dockerd's log
 * if it does not answer within a minute.
 */
export async function startPrivateDockerd(): Promise<PrivateDockerd> {
  // on disk: /tmp may be a tmpfs, where overlay2 works less well
  mkdirSync("/var/tmp", { recursive: true });
  const dir = mkdtempSync("/var/tmp/reprise-dockerd-");
  const sock = join(dir, "docker.sock");
  const host = `unix://${sock}`;
  const log = join(dir, "dockerd.log");
  const out = openSync(log, "a");
  const child: ChildProcess = spawn(
    "dockerd",
    [
      "--host", host,
      "--data-root", join(dir, "data"),
      "--exec-root", join(dir, "exec"),
      "--pidfile", join(dir, "dockerd.pid"),
      "--iptables=false",
      "--ip6tables=false",
      "--bridge=none",
      "--ip-forward=false",
      "--ip-masq=false",
      "--userland-proxy=false",
    ],
    { stdio: ["ignore", out, out], detached: false },
  );
  let exited: string | undefined;
  child.on("exit", (code, sig) => (exited = `dockerd exited (${code ?? sig})`));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (existsSync(sock) && spawnSync("docker", ["--host", host, "version"], { stdio: "ignore", timeout: 10_000 }).status === 0) break;
    if (exited || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${exited ?? "dockerd did not answer within 60 s"}:\n${readFileSync(log, "utf8").slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    host,
    dir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 20_000);
        await gone;
        clearTimeout(t);
      }
      // dockerd unmounts its layers when it stops; anything left mounted below dir is unmounted before removal
      const mounts = readFileSync("/proc/self/mounts", "utf8")
        .split("\n")
        .map((l) => l.split(" ")[1] ?? "")
        .filter((m) => m.startsWith(dir + "/"))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) spawnSync("umount", ["-l", m], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
