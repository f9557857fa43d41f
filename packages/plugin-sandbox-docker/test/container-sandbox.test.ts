import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Engine, type CompileJob } from "@reprise/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDebianPackages, pgrep } from "../../../test/support/sandbox-engines.js";
import { sandboxScenarios } from "../../../test/support/sandbox-scenarios.js";
import { TEST_LIMITS } from "../../../test/support/sandbox-toolchain.js";
import dockerSandboxPlugin, { ContainerSandbox, containerRunArguments, imageFor, measureContainerOverhead, parseContainerOptions, TOOLCHAIN_LABEL, ToolchainImages } from "../src/index.js";

/**
 * The container sandbox through podman (daemonless: podman and runc are
 * installed if missing, as containers-here.md says, and the tests run, never
 * skip). Images go to a repository of this test run, removed at the end;
 * see sandbox-scenarios.ts for what every sandbox is checked for.
 */

const run = `${process.pid}-${Date.now().toString(36)}`;
const repository = `localhost/reprise-test-${run}`;
const stateDir = mkdtempSync("/tmp/reprise-docker-state-");
const options = { engine: "podman", imageRepository: repository, stateDir };
const toolchainId = `test-${run}`;
const image = imageFor(repository, toolchainId);
const sandbox = new ContainerSandbox(options);

const podman = (...args: string[]) => spawnSync("podman", ["--runtime", "runc", ...args], { encoding: "utf8" });
/** Containers (any state) made from this run's images. */
const leftContainers = () =>
  podman("ps", "-a", "--format", "{{.Names}} {{.Image}} {{.Status}}")
    .stdout.split("\n")
    .filter((l) => l.includes(repository));
/** Distinct images carrying a toolchain id's label, tagged or dangling. */
const imagesLabelled = (id: string) => new Set(podman("images", "-a", "-q", "--no-trunc", "--filter", `label=${TOOLCHAIN_LABEL}=${id}`).stdout.split("\n").filter(Boolean));

beforeAll(() => ensureDebianPackages(["podman", "runc", "busybox-static"]), 600_000);
afterAll(async () => {
  const images = await sandbox.images();
  if (typeof images !== "string") await images.removeAll();
  for (const ref of podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split("\n")) if (ref.startsWith(repository + ":")) podman("rmi", "-f", ref);
  // and any untagged duplicate a failed race test would leave
  for (const id of [toolchainId, `race-${run}`, `gone-${run}`, `cancel-${run}`]) for (const img of imagesLabelled(id)) podman("rmi", "-f", img);
  rmSync(stateDir, { recursive: true, force: true });
}, 120_000);

describe("container sandbox (podman)", () => {
  it("is usable here and provided through createSandbox as docker and podman", async () => {
    expect(await sandbox.probe()).toEqual({ usable: true });
    expect(await sandbox.engine()).toMatchObject({ kind: "podman", path: "/usr/bin/podman", globalArgs: ["--runtime", "runc"] });
    const engine = new Engine();
    engine.use(dockerSandboxPlugin({ imageRepository: repository }));
    const docker = engine.hooks.createSandbox.call({ name: "docker", options: { stateDir } });
    expect(docker).toBeInstanceOf(ContainerSandbox);
    expect(docker?.name).toBe("docker");
    expect(engine.hooks.createSandbox.call({ name: "podman" })?.name).toBe("podman");
    expect(engine.hooks.createSandbox.call({ name: "bwrap" })).toBeUndefined();
    // this machine: docker's client is installed, no daemon answers on its default socket, so auto falls to podman
    expect(spawnSync("docker", ["version"], { stdio: "ignore" }).status).not.toBe(0);
    expect(await docker!.probe()).toEqual({ usable: true });
    expect(await (docker as ContainerSandbox).engine()).toMatchObject({ kind: "podman" });
  });

  it("says why it is unusable, and never runs a job then", async () => {
    const docker = await new ContainerSandbox({ engine: "docker", stateDir }).probe();
    expect(docker).toEqual({ usable: false, reason: expect.stringMatching(/^\/\S*\/docker version failed: .*daemon/) });
    expect(await new ContainerSandbox({ engine: "/nonexistent/podman" }).probe()).toEqual({ usable: false, reason: "/nonexistent/podman not found" });
    // an engine that answers `version` but cannot start a container with a job's flags is not usable either:
    // here rlimits above the machine's hard limits (containers-here.md)
    const broken = new ContainerSandbox({ ...options, ulimits: { nofile: "99999999:99999999" } });
    expect(await broken.probe()).toEqual({ usable: false, reason: expect.stringMatching(/cannot run a container with a job's flags: .*rlimit/) });
    await expect(broken.run(makeJob(["/usr/bin/true"]), materials())).rejects.toThrow(/container sandbox unusable/);
    // bad options are reasons too
    expect(await new ContainerSandbox({ user: "nobody" }).probe()).toEqual({ usable: false, reason: expect.stringContaining('"user"') });
    expect(await new ContainerSandbox({ user: "0:0" }).probe()).toEqual({ usable: false, reason: expect.stringContaining("never run as root") });
    expect(await new ContainerSandbox({ enigne: "podman" }).probe()).toEqual({ usable: false, reason: expect.stringContaining('unknown option "enigne"') });
  });

  it("takes options from its own section of a shared sandboxOptions", () => {
    const shared = { cpus: 2, docker: { engine: "podman", cpus: 3 }, bwrap: { prlimit: false } };
    expect(parseContainerOptions(shared, ["docker"])).toMatchObject({ engine: "podman", cpus: 3 });
    expect(parseContainerOptions({ cpus: 2, bwrap: { prlimit: false } }, ["docker"])).toMatchObject({ engine: "auto", cpus: 2 });
    expect(parseContainerOptions({ docker: { prlimit: false } }, ["docker"])).toMatch(/unknown option "docker.prlimit"/);
    expect(new ContainerSandbox({ docker: { cpus: 3 }, podman: { cpus: 4 } }, "podman")).toBeInstanceOf(ContainerSandbox);
    expect(parseContainerOptions({ engine: "podman", docker: { cpus: 3 }, podman: { cpus: 4 } }, ["docker", "podman"])).toMatchObject({ cpus: 4 });
  });

  it("runs with no network, a read-only root, no capabilities, a non-root user and the limits given", () => {
    const o = parseContainerOptions({ cpus: 1.5 }) as Exclude<ReturnType<typeof parseContainerOptions>, string>;
    const job = { cwd: "/p", env: { A: "1" }, limits: { timeoutMs: 90_000, maxOutputBytes: 1000, memoryBytes: 5_000_000, maxProcesses: 7 } };
    const a = containerRunArguments(job, { ops: [{ op: "bind", source: "/s/w/0", target: "/p" }], systemDirs: ["/tmp"] }, o, { kind: "podman" }, "n").join(" ");
    for (const flag of ["--rm", "--network none", "--read-only", "--user 65534:65534", "--cap-drop ALL", "--security-opt no-new-privileges", "--cpus 1.5", "--memory 5000000", "--memory-swap 5000000", "--pids-limit 7", "--ulimit fsize=1001:1001", "--ulimit core=0:0", "--pull never", "--timeout 120", "--workdir /p", "--env A=1"]) {
      expect(a).toContain(flag);
    }
    expect(a).toContain("--mount type=bind,source=/s/w/0,target=/p");
    expect(a).toContain("--tmpfs /tmp:rw,nosuid,nodev,size=1000,mode=1777");
    const d = containerRunArguments(job, { ops: [], systemDirs: ["/tmp"] }, o, { kind: "docker", runtime: "runc" }, "n").join(" ");
    expect(d).toContain("--runtime runc");
    expect(d).not.toContain("--timeout");
    expect(() => containerRunArguments(job, { ops: [{ op: "bind", source: "/a,b", target: "/p" }], systemDirs: [] }, o, { kind: "docker" }, "n")).toThrow(/comma/);
  });

  const fx = sandboxScenarios({
    label: "podman",
    sandbox: () => sandbox,
    // podman sets these whatever the job's environment says (HOME from the user entry it writes, whose home is the workdir)
    envExtras: (cwd) => ["HOSTNAME=reprise", `HOME=${cwd}`],
    toolchainId,
    limitsProcesses: true,
    blocksNestedUserNamespaces: false,
  });

  const makeJob = (argv: string[], extra: Partial<CompileJob> = {}) => fx.job(argv, [], [], { toolchainId, ...extra });
  const materials = (signal?: AbortSignal) => fx.materials(signal);

  it("puts the job in cgroups with its memory, process and CPU limits", async () => {
    const script = [
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null | sed 's/^/mem=/'",
      "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null | sed 's/^/pids=/'",
      "q=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null); p=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null); [ -n \"$q\" ] && echo cpu=$q/$p",
      "[ -f /sys/fs/cgroup/cpu.max ] && echo cpu=$(tr ' ' / < /sys/fs/cgroup/cpu.max)",
      "id -u",
    ].join("; ");
    const r = await sandbox.run(fx.sh(script, { limits: { ...TEST_LIMITS, memoryBytes: 300 * 1024 ** 2, maxProcesses: 23 } }), materials());
    const text = r.stdout.toString();
    expect(text).toContain(`mem=${300 * 1024 ** 2}\n`);
    expect(text).toContain("pids=23\n");
    const cpu = /cpu=(\d+)\/(\d+)/.exec(text);
    expect(Number(cpu![1]) / Number(cpu![2])).toBe(1);
    expect(text.trimEnd().split("\n").at(-1)).toBe("65534");
  });

  it("makes the toolchain's image once, reuses it, and leaves no container behind", async () => {
    expect(podman("image", "exists", image).status).toBe(0);
    // Besides the toolchain's image, one per set of links a scenario's jobs named (an image holding them).
    const made = ((await sandbox.images()) as ToolchainImages).events.filter((e) => e.image === image);
    expect(made.map((e) => e.how)).toEqual(["imported"]);
    console.log(`podman: gcc toolchain image imported in ${made[0]!.ms.toFixed(0)} ms`);
    const created = podman("image", "inspect", "--format", "{{.Id}}", image).stdout.trim();
    const fresh = new ContainerSandbox(options);
    const r = await fresh.run(makeJob(["/usr/bin/gcc", "-dumpversion"]), materials());
    expect(r.exitCode).toBe(0);
    expect(((await fresh.images()) as ToolchainImages).events.map((e) => e.how)).toEqual(["found"]);
    expect(podman("image", "inspect", "--format", "{{.Id}}", image).stdout.trim()).toBe(created);
    expect(imagesLabelled(toolchainId).size).toBe(3); // the toolchain's, and the two with links
    expect(leftContainers()).toEqual([]);
  });

  it("imports a toolchain once when first jobs for it start at once, in this process and in others", async () => {
    const id = `race-${run}`;
    const dist = new URL("../dist/index.js", import.meta.url).href;
    const child = () =>
      new Promise<string>((resolve, reject) => {
        const script = `const m = await import(${JSON.stringify(dist)});
const e = await m.findEngine("podman", {});
const imgs = new m.ToolchainImages(e, ${JSON.stringify(repository)}, ${JSON.stringify(stateDir)}, 0);
await imgs.ensure(${JSON.stringify(id)}, ${JSON.stringify(fx.root)});
console.log(JSON.stringify(imgs.events.map((x) => x.how)));`;
        const p = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        p.stdout.on("data", (d: Buffer) => (out += d.toString()));
        p.on("error", reject);
        p.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`child exited ${code}`))));
      });
    const a = new ContainerSandbox(options);
    const b = new ContainerSandbox(options);
    const job = makeJob(["/usr/bin/gcc", "-dumpversion"], { toolchainId: id });
    const [ra, ra2, rb, c1, c2] = await Promise.all([a.run(job, materials()), a.run(job, materials()), b.run(job, materials()), child(), child()]);
    for (const r of [ra, ra2, rb]) expect(r.exitCode).toBe(0);
    const hows: string[] = [...((await a.images()) as ToolchainImages).events, ...((await b.images()) as ToolchainImages).events].map((e) => e.how);
    hows.push(...(JSON.parse(c1) as string[]), ...(JSON.parse(c2) as string[]));
    expect(hows.sort()).toEqual(["found", "found", "found", "imported"]);
    expect(imagesLabelled(id).size).toBe(1);
    podman("rmi", imageFor(repository, id));
  });

  it("keeps at most maxImages toolchain images, removing the least recently used", async () => {
    const engine = (await sandbox.engine()) as Exclude<Awaited<ReturnType<ContainerSandbox["engine"]>>, string>;
    const repo = `${repository}-lru`;
    const state = mkdtempSync("/tmp/reprise-docker-lru-");
    const tiny = mkdtempSync("/tmp/reprise-docker-tiny-");
    writeFileSync(`${tiny}/f`, "tiny toolchain\n");
    const ids = ["lru-a", "lru-b", "lru-c"].map((x) => `${x}-${run}`);
    const exists = (id: string) => podman("image", "exists", imageFor(repo, id)).status === 0;
    try {
      const first = new ToolchainImages(engine, repo, state, 2);
      await first.ensure(ids[0]!, tiny);
      await new Promise((r) => setTimeout(r, 50));
      await first.ensure(ids[1]!, tiny);
      await new Promise((r) => setTimeout(r, 50));
      // another process uses a: b is now the least recently used
      await new ToolchainImages(engine, repo, state, 2).ensure(ids[0]!, tiny);
      await new Promise((r) => setTimeout(r, 200));
      await first.ensure(ids[2]!, tiny);
      expect(ids.map(exists)).toEqual([true, false, true]);
    } finally {
      for (const id of ids) podman("rmi", "-f", imageFor(repo, id));
      rmSync(state, { recursive: true, force: true });
      rmSync(tiny, { recursive: true, force: true });
    }
  });

  it("makes the image again when it was removed meanwhile", async () => {
    const id = `gone-${run}`;
    const s = new ContainerSandbox(options);
    const job = makeJob(["/usr/bin/gcc", "-dumpversion"], { toolchainId: id });
    expect((await s.run(job, materials())).exitCode).toBe(0);
    expect(podman("rmi", imageFor(repository, id)).status).toBe(0);
    const r = await s.run(job, materials());
    expect(r.exitCode).toBe(0);
    expect(((await s.images()) as ToolchainImages).events.map((e) => e.how)).toEqual(["imported", "imported"]);
    podman("rmi", imageFor(repository, id));
  });

  it("removes the container however early or late a job is cancelled, and while its image is being made", async () => {
    const cases = [0, 40, 150, 400, 900];
    const results = await Promise.all(
      cases.map(async (ms, i) => {
        const ac = new AbortController();
        const t0 = performance.now();
        const p = sandbox.run(fx.sh(`sleep ${987620 + i}`), materials(ac.signal));
        setTimeout(() => ac.abort(), ms);
        const r = await p;
        return { ms, r, took: performance.now() - t0 };
      }),
    );
    for (const { r } of results) expect(r.killed).toBe("cancelled");
    expect(pgrep("sleep 98762")).toEqual([]);
    expect(leftContainers()).toEqual([]);
    // cancelled while the image is made: the job ends at once; the image is finished for the next job
    const id = `cancel-${run}`;
    const s = new ContainerSandbox(options);
    await s.probe();
    const ac = new AbortController();
    const p = s.run(makeJob(["/usr/bin/gcc", "-dumpversion"], { toolchainId: id }), materials(ac.signal));
    setTimeout(() => ac.abort(), 50);
    expect((await p).killed).toBe("cancelled");
    const again = await s.run(makeJob(["/usr/bin/gcc", "-dumpversion"], { toolchainId: id }), materials());
    expect(again.exitCode).toBe(0);
    expect(((await s.images()) as ToolchainImages).events.map((e) => e.how)).toEqual(["imported"]);
    expect(leftContainers()).toEqual([]);
    podman("rmi", imageFor(repository, id));
  });

  it("removes a container the engine makes only after the job was cancelled", async () => {
    // a client slow to make the container: the removal at cancellation finds nothing; the container comes later
    const dir = mkdtempSync("/tmp/reprise-slow-engine-");
    const slow = `${dir}/podman`;
    writeFileSync(slow, `#!/bin/sh\nfor a in "$@"; do [ "$a" = run ] && sleep 1.2 && break; done\nexec /usr/bin/podman "$@"\n`, { mode: 0o755 });
    try {
      const s = new ContainerSandbox({ ...options, engine: slow });
      expect((await s.run(makeJob(["/usr/bin/gcc", "-dumpversion"]), materials())).exitCode).toBe(0); // the image is known: the next run starts its client at once
      const ac = new AbortController();
      const p = s.run(fx.sh("sleep 987640"), materials(ac.signal));
      setTimeout(() => ac.abort(), 50);
      expect((await p).killed).toBe("cancelled");
      expect(pgrep("sleep 987640")).toEqual([]);
      expect(leftContainers()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("leaves no container behind after timeouts, output limits and failures", async () => {
    const timeout = await sandbox.run(fx.sh("sleep 987630", { limits: { ...TEST_LIMITS, timeoutMs: 800 } }), materials());
    expect(timeout.killed).toBe("timeout");
    const loud = await sandbox.run(fx.sh("yes 98763y", { limits: { ...TEST_LIMITS, maxOutputBytes: 256 * 1024 } }), materials());
    expect(loud.killed).toBe("output-limit");
    expect(loud.stdout.length).toBeLessThanOrEqual(256 * 1024);
    const failed = await sandbox.run(fx.sh("exit 3"), materials());
    expect(failed.exitCode).toBe(3);
    expect(pgrep("98763")).toEqual([]);
    expect(leftContainers()).toEqual([]);
  });

  it("costs a container start per job (measured)", async () => {
    const m = await measureContainerOverhead({ toolchainRoot: fx.root, toolchainId, argv: ["/usr/bin/gcc", "-dumpversion"], runs: 5, options, name: "podman" });
    const load = (await import("node:os")).loadavg()[0]!.toFixed(1);
    console.log(
      `podman per-job overhead: ${m.overheadMs.toFixed(0)} ms (container runs ${m.containerMs.map((x) => x.toFixed(0)).join(", ")} ms; plain ${m.plainMs.map((x) => x.toFixed(0)).join(", ")} ms; probe ${m.probeMs.toFixed(0)} ms; image ${m.image?.how} in ${m.image?.ms.toFixed(0)} ms; load ${load})`,
    );
    expect(m.engine).toMatch(/^podman /);
    expect(m.image?.how).toBe("found");
    expect(m.overheadMs).toBeGreaterThan(0);
    expect(leftContainers()).toEqual([]);
  });
});

