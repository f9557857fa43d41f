import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, RepriseSandbox, plain, text } from "../support/reprise-env.js";

/**
 * The daemon runs core's bundle, and a plugin's `import "@reprise/core"`
 * reaches the same modules: one copy of core in the process. A third-party
 * plugin (installed as npm would: `@reprise/core` in the project's
 * node_modules) throws core's `ConfigError`; the engine recognises it as one
 * of its own (reason E_CONFIG, the plugin's message as the notice). With a
 * second copy of core loaded for the plugin, `instanceof` fails and the same
 * error would be counted as a plugin crash (E_PLUGIN, "parseArguments.for
 * failed: ConfigError: ...").
 */

let sb: RepriseSandbox;
let proj: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  proj = join(sb.root, "proj");
  mkdirSync(join(proj, "node_modules", "@reprise"), { recursive: true });
  symlinkSync(join(REPO_ROOT, "packages/core"), join(proj, "node_modules", "@reprise", "core"));
  writeFileSync(join(proj, "a.c"), "int a(void) { return 7; }\n");
  const example = join(REPO_ROOT, "examples/plugin-tcc/index.mjs");
  writeFileSync(
    join(proj, "strict-tcc.mjs"),
    `import tcc from ${JSON.stringify(example)};
import { ConfigError } from "@reprise/core/errors";
import * as core from "@reprise/core";
export default function () {
  const inner = tcc();
  return {
    name: "strict-tcc",
    apply(engine) {
      // Both public entries of core give the same class: they are one module.
      if (core.ConfigError !== ConfigError) throw new Error("two copies of ConfigError in one process");
      const parseArguments = { for: (f) => ({ tap: (n, fn) => engine.hooks.parseArguments.for(f).tap(n, (input) => {
        if (input.env.STRICT_TCC_MODE === undefined) throw new ConfigError("strict-tcc needs STRICT_TCC_MODE", "set it to fast or safe");
        return fn(input);
      }) }) };
      inner.apply({ hooks: { ...engine.hooks, parseArguments } });
    },
  };
}
`,
  );
  writeFileSync(join(proj, ".repriserc.json"), JSON.stringify({ plugins: ["./strict-tcc.mjs"] }));
});

afterAll(async () => {
  await sb.dispose();
});

describe("one copy of core in the daemon", () => {
  it("an error class a plugin takes from @reprise/core is the engine's own", async () => {
    const r = await sb.run(["tcc", "-c", "a.c", "-o", "a.o"], proj);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    const got = readFileSync(join(proj, "a.o"));
    rmSync(join(proj, "a.o"));
    await plain("tcc", ["-c", "a.c", "-o", "a.o"], proj);
    expect(got.equals(readFileSync(join(proj, "a.o")))).toBe(true);
    expect(text(r.stderr)).toContain("strict-tcc needs STRICT_TCC_MODE: set it to fast or safe");

    const stats = await sb.stats(proj);
    expect(stats.errors).toEqual({ E_CONFIG: 1 });
    expect(stats.byPlugin["strict-tcc"]).toMatchObject({ errors: 1 });
    const log = readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8");
    expect(log).not.toContain("failed: ConfigError");
    expect(log).not.toContain("two copies");
  });

  it("the same plugin caches once it is satisfied", async () => {
    const env = { STRICT_TCC_MODE: "fast" };
    for (let i = 0; i < 2; i++) {
      const r = await sb.run(["tcc", "-c", "a.c", "-o", "a.o"], proj, { env });
      expect(r.exitCode, text(r.stderr)).toBe(0);
    }
    const stats = await sb.stats(proj);
    expect(stats.byPlugin["strict-tcc"]).toMatchObject({ hits: 1, misses: 1 });
  });
});
