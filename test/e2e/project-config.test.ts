import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

/**
 * Config and plugins belong to the project of each call: whichever project
 * started the daemon, a call runs with its own project's plugins (and only
 * its project's plugins see it), as its config is at the time of the call.
 */

let sb: RepriseSandbox;
let withPlugin: string;
let plainProject: string;
let log: string;

const AUDIT_PLUGIN = `import { appendFileSync } from "node:fs";
export default function audit(options) {
  return {
    name: "audit",
    apply(engine) {
      engine.hooks.extendKey.tap("audit", (hasher) => { hasher.add("audit-salt", options.salt); });
      engine.hooks.callFinished.tapPromise("audit", async (o) => { appendFileSync(options.log, o.result + " " + o.request.cwd + "\\n"); });
    },
  };
}
`;

/** A third-party plugin for a compiler no first-party plugin knows: `copycc SRC OUT DEP`. */
const COPYCC_PLUGIN = `import { join } from "node:path";
export default {
  name: "copycc",
  apply(engine) {
    engine.hooks.detectCompiler.tapPromise("copycc", async (probe) =>
      probe.invokedName === "copycc" ? { family: "copycc", path: probe.path, realPath: probe.realPath, version: "1", versionText: "copycc 1" } : undefined);
    engine.hooks.parseArguments.for("copycc").tap("copycc", (input) => {
      const [, src, out] = input.argv;
      const dep = input.tempPath(".d");
      return { cacheable: true, invocation: {
        language: "copycc", sourceFile: join(input.cwd, src), outputs: [{ role: "out", path: join(input.cwd, out) }],
        keyArgs: [src, out], preprocessorOnlyArgs: [], compileArgv: [input.argv[0], src, out, dep],
        dependencies: { depFile: dep, depFileIsTemporary: true }, keyEnv: [], volatileMarkers: [],
        dependsOnCwd: false, colorDiagnostics: false, extraInputFiles: [] } };
    });
  },
};
`;

function auditConfig(salt: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ plugins: ["@reprise/plugin-gcc", ["./audit-plugin.mjs", { salt, log }]], ...extra });
}

const audited = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);

beforeAll(() => {
  sb = new RepriseSandbox();
  log = join(sb.root, "audit.log");
  withPlugin = join(sb.root, "with-plugin");
  plainProject = join(sb.root, "plain");
  for (const p of [withPlugin, plainProject]) mkdirSync(p, { recursive: true });
  writeFileSync(join(withPlugin, "audit-plugin.mjs"), AUDIT_PLUGIN);
  writeFileSync(join(withPlugin, ".repriserc.json"), auditConfig("one"));
  writeFileSync(join(withPlugin, "a.c"), "int a(void) { return 1; }\n");
  writeFileSync(join(plainProject, ".repriserc.json"), JSON.stringify({ keyMode: "direct" }));
  writeFileSync(join(plainProject, "b.c"), "int b(void) { return 2; }\n");
});

let copyccProject: string;

beforeAll(() => {
  copyccProject = join(sb.root, "copycc-project");
  mkdirSync(copyccProject, { recursive: true });
  writeFileSync(join(copyccProject, "copycc-plugin.mjs"), COPYCC_PLUGIN);
  writeFileSync(join(copyccProject, ".repriserc.json"), JSON.stringify({ plugins: ["./copycc-plugin.mjs"] }));
  writeFileSync(join(copyccProject, "copycc"), `#!/bin/sh\ncat "$1" > "$2"\nif [ -n "$3" ]; then echo "$2: $1" > "$3"; fi\n`);
  chmodSync(join(copyccProject, "copycc"), 0o755);
  writeFileSync(join(copyccProject, "x.src"), "copied byte for byte\n");
});

afterAll(async () => {
  await sb.dispose();
});

const compileA = () => expectSameAsPlain(sb, withPlugin, ["gcc", "-c", "a.c", "-o", "a.o"], ["a.o"]);
const compileB = () => expectSameAsPlain(sb, plainProject, ["gcc", "-c", "b.c", "-o", "b.o"], ["b.o"]);

async function freshDaemon(startedIn: string): Promise<void> {
  await sb.run(["--stop-server"], sb.root);
  rmSync(sb.cacheDir, { recursive: true, force: true });
  rmSync(log, { force: true });
  expect((await sb.run(["--start-server"], startedIn)).exitCode).toBe(0);
  await sb.zeroStats();
}

describe("each call gets its own project's plugins", () => {
  it.each([
    ["the project without the plugin", () => plainProject],
    ["the project with the plugin", () => withPlugin],
  ])("daemon started by %s: both projects work, and the plugin sees only its project's calls", async (_label, starter) => {
    await freshDaemon(starter());
    await compileB();
    await compileA();
    await compileB();
    expect(audited()).toEqual([`miss ${withPlugin}`, `hit-direct ${withPlugin}`]);
    const s = await sb.stats();
    expect(s.misses).toBe(2);
    expect(s.hitsDirect).toBe(4);
    expect(s.errors).toEqual({});
  });
});

describe("a project's compiler plugin", () => {
  it("serves its project although another project started the daemon, and no other project", async () => {
    await freshDaemon(plainProject);
    await compileB();
    await expectSameAsPlain(sb, copyccProject, ["./copycc", "x.src", "x.out"], ["x.out"]);
    let s = await sb.stats();
    expect(s.byLanguage.copycc).toEqual({ hitsDirect: 1, hitsPreprocessor: 0, misses: 1 });
    // The same compiler called from a project that does not list the plugin is not known there.
    writeFileSync(join(plainProject, "x.src"), "x\n");
    const r = await sb.run([join(copyccProject, "copycc"), "x.src", "x.out"], plainProject);
    expect(r.exitCode).toBe(0);
    s = await sb.stats();
    expect(s.notCacheable["unknown-compiler"]).toBe(1);
  });
});

describe("a config is read as it is at each call", () => {
  it("an edit to plugin options, then to a setting, applies to the next call without --stop-server", async () => {
    await freshDaemon(withPlugin);
    await compileA();
    expect(audited()).toEqual([`miss ${withPlugin}`, `hit-direct ${withPlugin}`]);
    // A new salt makes a new key: a miss, then a hit, through a plugin loaded with the new options.
    writeFileSync(join(withPlugin, ".repriserc.json"), auditConfig("two"));
    await compileA();
    expect(audited().slice(2)).toEqual([`miss ${withPlugin}`, `hit-direct ${withPlugin}`]);
    writeFileSync(join(withPlugin, ".repriserc.json"), auditConfig("two", { disable: true }));
    const before = (await sb.stats()).notCacheable.disabled ?? 0;
    await compileA();
    expect((await sb.stats()).notCacheable.disabled).toBe(before + 2);
    // Removing the config leaves the plugin out of the next calls.
    rmSync(join(withPlugin, ".repriserc.json"));
    const lines = audited().length;
    await compileA();
    expect(audited().length).toBe(lines);
  });
});
