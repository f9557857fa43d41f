import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox, text } from "../support/reprise-env.js";
import { tccCompileLikePlain, tccWrapperProject } from "../support/tcc-wrapper-plugin.js";

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
  proj = tccWrapperProject(sb, {
    name: "strict-tcc",
    linkCore: true,
    imports: 'import { ConfigError } from "@reprise/core/errors";\nimport * as core from "@reprise/core";',
    // Both public entries of core give the same class: they are one module.
    onApply: 'if (core.ConfigError !== ConfigError) throw new Error("two copies of ConfigError in one process");',
    parse: 'if (input.env.STRICT_TCC_MODE === undefined) throw new ConfigError("strict-tcc needs STRICT_TCC_MODE", "set it to fast or safe");\n        return fn(input);',
  });
});

afterAll(async () => {
  await sb.dispose();
});

describe("one copy of core in the daemon", () => {
  it("an error class a plugin takes from @reprise/core is the engine's own", async () => {
    const r = await tccCompileLikePlain(sb, proj);
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

  it("a daemon compiled from its code cache loads plugins and shares core with them as well", async () => {
    // The first daemon writes its code cache a few seconds after it started (daemon/entry.ts).
    const cached = async () => {
      for (let i = 0; i < 100; i++) {
        const found = readdirSync(sb.runtimeDir).find((f) => f.startsWith("code-cache-") && f.endsWith(".v8"));
        if (found) return join(sb.runtimeDir, found);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("the daemon wrote no code cache");
    };
    const cache = await cached();
    const written = statSync(cache).mtimeMs;
    await sb.run(["--stop-server"], sb.root);
    await sb.zeroStats();

    // The notice was shown once already; the count tells the engine recognised the plugin's error as its own.
    await tccCompileLikePlain(sb, proj);
    expect((await sb.stats(proj)).errors, sb.daemonLogTail(20)).toEqual({ E_CONFIG: 1 });
    const env = { STRICT_TCC_MODE: "fast" };
    for (let i = 0; i < 2; i++) expect((await sb.run(["tcc", "-c", "a.c", "-o", "a.o"], proj, { env })).exitCode).toBe(0);
    expect((await sb.stats(proj)).byPlugin["strict-tcc"]).toMatchObject({ hits: 2 });
    // Past the moment a daemon writes its cache: this one took it as it was (a refused cache is written again).
    await new Promise((r) => setTimeout(r, 4000));
    expect(statSync(cache).mtimeMs).toBe(written);
    const log = readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8");
    expect(log).not.toContain("failed to load");
    expect(log).not.toContain("two copies");
  }, 30_000);
});
