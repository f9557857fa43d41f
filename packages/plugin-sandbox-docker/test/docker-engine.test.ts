import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDebianPackages, pgrep } from "../../../test/support/sandbox-engines.js";
import { sandboxScenarios } from "../../../test/support/sandbox-scenarios.js";
import { TEST_LIMITS } from "../../../test/support/sandbox-toolchain.js";
import { ContainerSandbox, imageFor, measureContainerOverhead, TOOLCHAIN_LABEL, type ToolchainImages } from "../src/index.js";
import { startPrivateDockerd, type PrivateDockerd } from "./support/dockerd.js";

/**
 * The same sandbox through docker's command line and a real docker engine:
 * Debian's dockerd (installed if missing), started on a socket of its own
 * for these tests and stopped after them. The docker client's default socket
 * is left alone (no daemon there on this machine).
 */

const run = `${process.pid}-${Date.now().toString(36)}`;
const repository = `localhost/reprise-dtest-${run}`;
const stateDir = mkdtempSync("/tmp/reprise-docker-state-");
const toolchainId = `dtest-${run}`;
let dockerd: PrivateDockerd | undefined;
let sandbox: ContainerSandbox;
const options = () => ({ engine: "docker", globalArgs: ["--host", dockerd!.host], imageRepository: repository, stateDir });

const docker = (...args: string[]) => spawnSync("docker", ["--host", dockerd!.host, ...args], { encoding: "utf8" });
/** Containers in any state; docker removes an ended `--rm` container just after its client returns, so wait a little for that. */
async function leftContainers(): Promise<string[]> {
  let left: string[] = [];
  for (let i = 0; i < 20; i++) {
    left = docker("ps", "-a", "--format", "{{.Names}} {{.Image}} {{.Status}}").stdout.split("\n").filter(Boolean);
    if (!left.length) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return left;
}

beforeAll(async () => {
  ensureDebianPackages(["docker.io"]);
  dockerd = await startPrivateDockerd();
  sandbox = new ContainerSandbox(options());
}, 600_000);
afterAll(async () => {
  await dockerd?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}, 120_000);

describe("container sandbox (docker, Debian's dockerd)", () => {
  it("finds docker's engine through the configured host and runs its probe container", async () => {
    expect(await sandbox.probe()).toEqual({ usable: true });
    expect(await sandbox.engine()).toMatchObject({ kind: "docker", globalArgs: ["--host", dockerd!.host], version: expect.stringMatching(/^\d+\.\d+/) });
  });

  const fx = sandboxScenarios({
    label: "docker",
    sandbox: () => sandbox,
    // docker sets these whatever the job's environment says (HOME=/ for a user without a passwd entry)
    envExtras: () => ["HOSTNAME=reprise", "HOME=/"],
    toolchainId,
    limitsProcesses: true,
    blocksNestedUserNamespaces: false,
  });

  it("made the image once, labelled with its toolchain id, and leaves no container behind", async () => {
    // Besides the toolchain's image, one per set of links a scenario's jobs named (an image holding them): two.
    const events = ((await sandbox.images()) as ToolchainImages).events;
    const own = events.filter((e) => e.image === imageFor(repository, toolchainId));
    expect(own.map((e) => e.how)).toEqual(["imported"]);
    expect(events.filter((e) => e.how === "imported")).toHaveLength(3);
    console.log(`docker: gcc toolchain image imported in ${own[0]!.ms.toFixed(0)} ms`);
    const labelled = docker("images", "-a", "-q", "--filter", `label=${TOOLCHAIN_LABEL}=${toolchainId}`).stdout.split("\n").filter(Boolean);
    expect(new Set(labelled).size).toBe(3);
    expect(docker("image", "inspect", imageFor(repository, toolchainId)).status).toBe(0);
    expect(await leftContainers()).toEqual([]);
  });

  it("puts the job in cgroups with its memory, process and CPU limits, as a non-root user", async () => {
    const script = [
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null | sed 's/^/mem=/'",
      "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null | sed 's/^/pids=/'",
      "q=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null); p=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null); [ -n \"$q\" ] && echo cpu=$q/$p",
      "[ -f /sys/fs/cgroup/cpu.max ] && echo cpu=$(tr ' ' / < /sys/fs/cgroup/cpu.max)",
      "id -u",
    ].join("; ");
    const r = await sandbox.run(fx.sh(script, { limits: { ...TEST_LIMITS, memoryBytes: 300 * 1024 ** 2, maxProcesses: 23 } }), fx.materials());
    const text = r.stdout.toString();
    expect(text).toContain(`mem=${300 * 1024 ** 2}\n`);
    expect(text).toContain("pids=23\n");
    const cpu = /cpu=(\d+)\/(\d+)/.exec(text);
    expect(Number(cpu![1]) / Number(cpu![2])).toBe(1);
    expect(text.trimEnd().split("\n").at(-1)).toBe("65534");
  });

  it("removes the container when a job is cancelled early or late, or times out", async () => {
    const results = await Promise.all(
      [30, 300, 1200].map(async (ms, i) => {
        const ac = new AbortController();
        const p = sandbox.run(fx.sh(`sleep ${987660 + i}`), fx.materials(ac.signal));
        setTimeout(() => ac.abort(), ms);
        return p;
      }),
    );
    for (const r of results) expect(r.killed).toBe("cancelled");
    const t = await sandbox.run(fx.sh("sleep 987669", { limits: { ...TEST_LIMITS, timeoutMs: 800 } }), fx.materials());
    expect(t.killed).toBe("timeout");
    expect(pgrep("sleep 98766")).toEqual([]);
    expect(await leftContainers()).toEqual([]);
  });

  it("costs a container start per job (measured)", async () => {
    const m = await measureContainerOverhead({ toolchainRoot: fx.root, toolchainId, argv: ["/usr/bin/gcc", "-dumpversion"], runs: 5, options: options() });
    const load = (await import("node:os")).loadavg()[0]!.toFixed(1);
    console.log(
      `docker per-job overhead: ${m.overheadMs.toFixed(0)} ms (container runs ${m.containerMs.map((x) => x.toFixed(0)).join(", ")} ms; plain ${m.plainMs.map((x) => x.toFixed(0)).join(", ")} ms; probe ${m.probeMs.toFixed(0)} ms; load ${load})`,
    );
    expect(m.engine).toMatch(/^docker /);
    expect(m.overheadMs).toBeGreaterThan(0);
  });
});
