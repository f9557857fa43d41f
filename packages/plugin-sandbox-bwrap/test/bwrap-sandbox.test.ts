import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "@reprise/core";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureDebianPackages, pgrep } from "../../../test/support/sandbox-engines.js";
import { sandboxScenarios } from "../../../test/support/sandbox-scenarios.js";
import bwrapSandboxPlugin, { BwrapSandbox } from "../src/index.js";

/**
 * The bwrap sandbox with a real gcc toolchain root (see sandbox-scenarios.ts
 * for what every sandbox is checked for).
 */

beforeAll(() => ensureDebianPackages(["bubblewrap", "busybox-static"]), 300_000);

const sandbox = new BwrapSandbox();

describe("bwrap sandbox", () => {
  it("is usable here, provided through createSandbox, and says why not when it is not", async () => {
    expect(await sandbox.probe()).toEqual({ usable: true });
    const engine = new Engine();
    engine.use(bwrapSandboxPlugin());
    expect(engine.hooks.createSandbox.call({ name: "bwrap" })).toBeInstanceOf(BwrapSandbox);
    expect(engine.hooks.createSandbox.call({ name: "docker" })).toBeUndefined();
    const bad = engine.hooks.createSandbox.call({ name: "bwrap", options: { colour: "red" } })!;
    expect(await bad.probe()).toEqual({ usable: false, reason: expect.stringContaining('unknown option "colour"') });
    expect(await new BwrapSandbox({ bwrap: "/nonexistent/bwrap" }).probe()).toEqual({ usable: false, reason: "bwrap not found at /nonexistent/bwrap" });
    expect(await new BwrapSandbox({ uid: -1 }).probe()).toEqual({ usable: false, reason: expect.stringContaining('"uid"') });
    // Options shared by several sandboxes: this one's section applies, other sandboxes' sections are left alone.
    expect(await new BwrapSandbox({ docker: { engine: "podman" }, bwrap: { hostname: "builder" } }).probe()).toEqual({ usable: true });
    expect(await new BwrapSandbox({ bwrap: { colour: "red" } }).probe()).toEqual({ usable: false, reason: expect.stringContaining('unknown option "bwrap.colour"') });
    expect(await new BwrapSandbox({ bwrap: { bwrap: "/nonexistent/bwrap" } }).probe()).toEqual({ usable: false, reason: "bwrap not found at /nonexistent/bwrap" });
  });

  const fx = sandboxScenarios({ label: "bwrap", sandbox: () => sandbox, envExtras: (cwd) => [`PWD=${cwd}`], limitsProcesses: false, blocksNestedUserNamespaces: true });

  it("leaves no process behind when the job's program exits and its children do not", async () => {
    const r = await sandbox.run(fx.sh("sleep 987656 & sleep 987657 & echo started"), fx.materials());
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe("started\n");
    expect(pgrep("sleep 98765[67]")).toEqual([]);
  });

  it("creates the directories a job names, even with no input in them (gcc -Wmissing-include-dirs stays quiet, as here)", async () => {
    mkdirSync(join(fx.proj, "empty-include"), { recursive: true });
    writeFileSync(join(fx.proj, "src/plain.c"), "int plain(void) { return 4; }\n");
    const argv = ["/usr/bin/gcc", "-Wmissing-include-dirs", "-Iempty-include", "-c", "src/plain.c", "-o", "build/plain.o"];
    const here = spawnSync(argv[0]!, argv.slice(1), { cwd: fx.proj, encoding: "utf8" });
    expect(here.status).toBe(0);
    expect(here.stderr).toBe("");
    const inputs = fx.store.closure(argv, fx.proj);
    const outputs = [{ role: "object", path: join(fx.proj, "build/plain.o") }];
    const without = await sandbox.run(fx.job(argv, inputs, outputs), fx.materials());
    expect(without.stderr.toString()).toContain("empty-include: No such file or directory");
    const withDirs = await sandbox.run(fx.job(argv, inputs, outputs, { directories: [join(fx.proj, "empty-include")] }), fx.materials());
    expect(withDirs.exitCode).toBe(0);
    expect(withDirs.stderr.toString()).toBe(here.stderr);
    // Read-only like every input directory.
    const probe = await sandbox.run(fx.sh(`touch ${join(fx.proj, "empty-include/x")} 2>&1; ls -a ${join(fx.proj, "empty-include")}`, { directories: [join(fx.proj, "empty-include")] }), fx.materials());
    expect(probe.stdout.toString()).toMatch(/Read-only file system[^]*\.\n\.\.\n$/);
  });
});
