import { Engine } from "@reprise/core";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureDebianPackages } from "../../../test/support/sandbox-engines.js";
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
  });

  sandboxScenarios({ label: "bwrap", sandbox: () => sandbox, envExtras: (cwd) => [`PWD=${cwd}`], limitsProcesses: false, blocksNestedUserNamespaces: true });
});
