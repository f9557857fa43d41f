import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { tccCompileLikePlain, tccWrapperProject } from "../support/tcc-wrapper-plugin.js";

/**
 * A third-party plugin whose parser returns an invocation without `keyEnv`,
 * loaded by a real daemon: the build still succeeds (the call is compiled as
 * if Reprise were not there), and the log and stats name the plugin and the
 * field instead of "inv.keyEnv is not iterable".
 */

let sb: RepriseSandbox;
let proj: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  proj = tccWrapperProject(sb, {
    name: "broken-tcc",
    parse: "const r = fn(input);\n        if (r.cacheable) delete r.invocation.keyEnv;\n        return r;",
  });
});

afterAll(async () => {
  await sb.dispose();
});

describe("a plugin returning an invalid parse result", () => {
  it("the compile succeeds as a plain one; log and stats name the plugin and the missing field", async () => {
    await tccCompileLikePlain(sb, proj);

    const stats = await sb.stats(proj);
    expect(stats.errors.E_PLUGIN).toBe(1);
    expect(stats.byPlugin["broken-tcc"]).toMatchObject({ errors: 1, hits: 0, misses: 0 });
    const log = readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8");
    expect(log).toContain('plugin broken-tcc: parseArguments.for("tcc") returned an invalid result: invocation.keyEnv');
    expect(log).not.toContain("is not iterable");
  });
});
