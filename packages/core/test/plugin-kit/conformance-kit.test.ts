import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pluginConformance, type ConformanceOptions } from "@reprise/core/plugin-kit";

/**
 * The kit must catch what plugin authors get wrong. Each plugin here is the
 * example tcc plugin (examples/plugin-tcc) with one mistake, run against
 * Debian's real tcc; the kit's check for that mistake must fail, saying what
 * is wrong and naming the plugin.
 */

const EXAMPLE = resolve(import.meta.dirname, "../../../../examples/plugin-tcc/index.mjs");
const dir = mkdtempSync(join(tmpdir(), "reprise-kit-test-"));
const kits: { dispose(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(kits.map((k) => k.dispose()));
  rmSync(dir, { recursive: true, force: true });
});

/** The example plugin under `name`, with `mutate` run on every parse result `r` (input in `input`). */
function brokenPlugin(name: string, mutate: string, detectGcc = false): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(
    file,
    `import tcc from ${JSON.stringify(EXAMPLE)};
export default function () {
  const inner = tcc();
  return {
    name: ${JSON.stringify(name)},
    apply(engine) {
      ${detectGcc ? `engine.hooks.detectCompiler.tapPromise("x", async (p) => p.invokedName === "gcc" ? { family: "tcc", path: p.path, realPath: p.realPath, version: "1", versionText: "gcc" } : undefined);` : ""}
      const parseArguments = { for: (family) => ({ tap: (tapName, fn) => engine.hooks.parseArguments.for(family).tap(tapName, (input) => { const r = fn(input); ${mutate}; return r; }) }) };
      inner.apply({ hooks: { ...engine.hooks, parseArguments } });
    },
  };
}
`,
  );
  return file;
}

const SOURCE = '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n';

function kitFor(plugin: string, more: Partial<ConformanceOptions> = {}) {
  const kit = pluginConformance({
    plugin,
    compiler: "tcc",
    family: "tcc",
    cacheable: [{ args: ["-MD", "-c", "main.c", "-o", "main.o"], files: { "main.c": SOURCE }, outputs: ["main.o", "main.d"] }],
    ...more,
  });
  kits.push(kit);
  return kit;
}

async function failureOf(kit: ReturnType<typeof kitFor>, nameStart: string): Promise<string> {
  const check = kit.checks.find((c) => c.name.startsWith(nameStart));
  expect(check, `a check named "${nameStart}..."`).toBeDefined();
  const err = await check!.run().then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err, `check "${check!.name}" should fail`).toBeInstanceOf(Error);
  return err!.message;
}

describe("the conformance kit catches a plugin's mistakes", () => {
  it("passes the example plugin as it is (the baseline the mistakes below depart from)", async () => {
    const kit = kitFor(EXAMPLE);
    for (const check of kit.checks) await check.run();
  });

  it("a parse result missing a required field: names the plugin and the field", async () => {
    const msg = await failureOf(kitFor(brokenPlugin("tcc-without-keyenv", "if (r.cacheable) delete r.invocation.keyEnv")), "parses");
    expect(msg).toContain('plugin tcc-without-keyenv: parseArguments.for("tcc") returned an invalid result: invocation.keyEnv');
  });

  it("a parser that reads process.env instead of input.env", async () => {
    const msg = await failureOf(kitFor(brokenPlugin("tcc-process-env", "if (r.cacheable && process.env.CPATH) r.invocation.keyEnv.push('CPATH')")), "parses");
    expect(msg).toMatch(/read process\.env \(CPATH\): read input\.env/);
  });

  it("a plugin that forgets an output: the hit does not write it", async () => {
    const msg = await failureOf(kitFor(brokenPlugin("tcc-forgets-dep", "if (r.cacheable) r.invocation.outputs = r.invocation.outputs.filter((o) => o.role !== 'dep')")), "a miss and a hit");
    expect(msg).toMatch(/hit: did not write main\.d/);
    const parse = await failureOf(kitFor(brokenPlugin("tcc-forgets-dep-2", "if (r.cacheable) r.invocation.outputs = r.invocation.outputs.filter((o) => o.role !== 'dep')")), "parses");
    expect(parse).toMatch(/outputs do not list .*main\.d/);
  });

  it("a plugin that claims another compiler", async () => {
    const msg = await failureOf(kitFor(brokenPlugin("tcc-claims-gcc", "", true), { notMine: ["gcc"] }), "does not claim gcc");
    expect(msg).toContain('claimed it as family "tcc"');
  });

  it("a plugin that caches a call it must not", async () => {
    const msg = await failureOf(kitFor(EXAMPLE, { notCacheable: [{ args: ["-c", "main.c"], files: { "main.c": SOURCE } }] }), "does not cache");
    expect(msg).toContain("returned a cacheable invocation");
  });
});
