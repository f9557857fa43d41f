import { spawnSync } from "node:child_process";
import { Engine } from "@reprise/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDebianPackages } from "../../../test/support/sandbox-engines.js";
import { sandboxScenarios } from "../../../test/support/sandbox-scenarios.js";
import dockerSandboxPlugin, { ContainerSandbox, imageFor } from "../src/index.js";

/**
 * The container sandbox through podman (daemonless, so the tests need no
 * running engine: podman and runc are installed if missing, as in
 * containers-here.md). See sandbox-scenarios.ts for what every sandbox is
 * checked for.
 */

// A toolchain id of this test run: the image is made once, reused by every job, and removed at the end.
const toolchainId = `test-${process.pid}-${Date.now().toString(36)}`;
const image = imageFor("localhost/reprise-toolchain", toolchainId);
const sandbox = new ContainerSandbox({ engine: "podman" });

beforeAll(() => ensureDebianPackages(["podman", "runc", "busybox-static"]), 600_000);
afterAll(() => {
  spawnSync("podman", ["rmi", "-f", image], { stdio: "ignore" });
});

describe("container sandbox (podman)", () => {
  it("is usable here, provided through createSandbox, and says why not when it is not", async () => {
    expect(await sandbox.probe()).toEqual({ usable: true });
    const engine = new Engine();
    engine.use(dockerSandboxPlugin());
    expect(engine.hooks.createSandbox.call({ name: "docker" })).toBeInstanceOf(ContainerSandbox);
    expect(engine.hooks.createSandbox.call({ name: "podman" })?.name).toBe("podman");
    expect(engine.hooks.createSandbox.call({ name: "bwrap" })).toBeUndefined();
    expect(await new ContainerSandbox({ engine: "/nonexistent/podman" }).probe()).toEqual({ usable: false, reason: "/nonexistent/podman not found" });
    expect(await new ContainerSandbox({ user: "nobody" }).probe()).toEqual({ usable: false, reason: expect.stringContaining('"user"') });
    // docker's client is installed here without a daemon: it is not usable, and auto picks podman
    if (spawnSync("sh", ["-c", "command -v docker"]).status === 0 && spawnSync("docker", ["version"], { stdio: "ignore" }).status !== 0) {
      expect(await new ContainerSandbox({ engine: "docker" }).probe()).toEqual({ usable: false, reason: expect.stringMatching(/docker version failed/) });
    }
    expect((await new ContainerSandbox().engine()) as { kind: string }).toMatchObject({ kind: "podman" });
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

  it("makes the toolchain's image once and reuses it; leaves no container behind", async () => {
    expect(spawnSync("podman", ["image", "exists", image]).status).toBe(0);
    const created = spawnSync("podman", ["image", "inspect", "--format", "{{.Id}}", image], { encoding: "utf8" }).stdout.trim();
    const fresh = new ContainerSandbox({ engine: "podman" });
    const r = await fresh.run(fx.job(["/usr/bin/gcc", "-dumpversion"], [], [], { toolchainId }), fx.materials());
    expect(r.exitCode).toBe(0);
    expect(spawnSync("podman", ["image", "inspect", "--format", "{{.Id}}", image], { encoding: "utf8" }).stdout.trim()).toBe(created);
    const left = spawnSync("podman", ["ps", "-a", "--filter", "name=reprise-job-", "--format", "{{.Names}}"], { encoding: "utf8" }).stdout.trim();
    expect(left).toBe("");
  });
});
