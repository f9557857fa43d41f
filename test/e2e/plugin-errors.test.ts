import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, RepriseSandbox, plain, text } from "../support/reprise-env.js";

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
  proj = join(sb.root, "proj");
  mkdirSync(proj, { recursive: true });
  writeFileSync(join(proj, "a.c"), "int a(void) { return 7; }\n");
  const example = join(REPO_ROOT, "examples/plugin-tcc/index.mjs");
  writeFileSync(
    join(proj, "broken-tcc.mjs"),
    `import tcc from ${JSON.stringify(example)};
export default function () {
  const inner = tcc();
  return {
    name: "broken-tcc",
    apply(engine) {
      const parseArguments = { for: (f) => ({ tap: (n, fn) => engine.hooks.parseArguments.for(f).tap(n, (input) => {
        const r = fn(input);
        if (r.cacheable) delete r.invocation.keyEnv;
        return r;
      }) }) };
      inner.apply({ hooks: { ...engine.hooks, parseArguments } });
    },
  };
}
`,
  );
  writeFileSync(join(proj, ".repriserc.json"), JSON.stringify({ plugins: ["./broken-tcc.mjs"] }));
});

afterAll(async () => {
  await sb.dispose();
});

describe("a plugin returning an invalid parse result", () => {
  it("the compile succeeds as a plain one; log and stats name the plugin and the missing field", async () => {
    const r = await sb.run(["tcc", "-c", "a.c", "-o", "a.o"], proj);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    const got = readFileSync(join(proj, "a.o"));
    rmSync(join(proj, "a.o"));
    await plain("tcc", ["-c", "a.c", "-o", "a.o"], proj);
    expect(got.equals(readFileSync(join(proj, "a.o")))).toBe(true);

    const stats = await sb.stats(proj);
    expect(stats.errors.E_PLUGIN).toBe(1);
    expect(stats.byPlugin["broken-tcc"]).toMatchObject({ errors: 1, hits: 0, misses: 0 });
    const log = readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8");
    expect(log).toContain('plugin broken-tcc: parseArguments.for("tcc") returned an invalid result: invocation.keyEnv');
    expect(log).not.toContain("is not iterable");
  });
});
