/**
 * `@reprise/core/plugin-kit`: a conformance kit for plugin authors. Run its
 * checks in your own test suite against your plugin and a real compiler:
 *
 *   const kit = pluginConformance({ plugin: "./index.mjs", compiler: "tcc", family: "tcc", cacheable: [...] });
 *   afterAll(() => kit.dispose());
 *   for (const check of kit.checks) it(check.name, check.run, 60_000);
 *
 * See docs/plugin-guide.md ("Testing a plugin").
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { CompilerInfo } from "../engine/types.js";
import { PluginHarness } from "./harness.js";
import { differences, IsolatedReprise, observe, removeOutputs } from "./compare-with-plain.js";

export { PluginHarness } from "./harness.js";
export { watchProcessEnv } from "./env-watch.js";

/** A compile the plugin must cache: its files are written to a fresh directory, `args` follow the compiler. */
export interface CacheableCase {
  args: string[];
  /** Files of the project, by path relative to its directory. */
  files: Record<string, string>;
  /** Files the compile writes, relative to the directory; compared byte for byte. */
  outputs: string[];
  /** Extra environment of the call. */
  env?: Record<string, string>;
}

/** A call the plugin must not cache (linking, preprocessing only, ...). */
export interface NotCacheableCase {
  args: string[];
  files?: Record<string, string>;
  /** The reason it must give; any reason when absent. */
  reason?: string;
}

export interface ConformanceOptions {
  /** The plugin as config's `plugins` names it: a package name or a path (relative to `baseDir`). */
  plugin: string;
  /** The plugin's options, as in `["plugin", { ... }]`. */
  options?: Record<string, unknown>;
  /** Directory a relative `plugin` is resolved from (default: the working directory). */
  baseDir?: string;
  /** The compiler: a path, or a name found on PATH. */
  compiler: string;
  /** The family detection must report. */
  family?: string;
  /** Compilers the plugin must not claim (e.g. "gcc" for a tcc plugin). */
  notMine?: string[];
  cacheable: CacheableCase[];
  notCacheable?: NotCacheableCase[];
}

export interface ConformanceCheck {
  name: string;
  run(): Promise<void>;
}

export class ConformanceFailure extends Error {
  constructor(check: string, problems: string[]) {
    super(`${check}:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConformanceFailure";
  }
}

const show = (args: string[]) => args.join(" ");

/** The conformance checks for one plugin and compiler; `dispose()` stops the daemon and removes the work directory. */
export function pluginConformance(o: ConformanceOptions): { checks: ConformanceCheck[]; dispose(): Promise<void> } {
  const baseDir = o.baseDir ?? process.cwd();
  const pluginSpec = o.plugin.startsWith(".") ? resolve(baseDir, o.plugin) : o.plugin;
  const root = mkdtempSync(join(tmpdir(), "reprise-conformance-"));
  const env = process.env as Record<string, string>;
  const reprise = new IsolatedReprise(root, env);
  // Calls from every case directory find this config: the daemon loads the plugin from it.
  writeFileSync(join(root, ".repriserc.json"), JSON.stringify({ plugins: [o.options ? [pluginSpec, o.options] : pluginSpec] }));
  let harness: Promise<PluginHarness> | undefined;
  let detected: Promise<CompilerInfo | undefined> | undefined;
  const getHarness = () => (harness ??= PluginHarness.load(pluginSpec, o.options, isAbsolute(pluginSpec) ? dirname(pluginSpec) : baseDir));
  const getCompiler = async () => {
    const info = await (detected ??= getHarness().then((h) => h.detect(o.compiler, env)));
    if (!info) throw new ConformanceFailure(`detection of ${o.compiler}`, ["detectCompiler returned undefined: the plugin does not recognise the compiler"]);
    return info;
  };
  let dirs = 0;
  const project = (files: Record<string, string> = {}) => {
    const dir = join(root, `case-${++dirs}`);
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), content);
    }
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  const checks: ConformanceCheck[] = [
    {
      name: `detects ${o.compiler}${o.family ? ` as family "${o.family}"` : ""}`,
      run: async () => {
        const info = await getCompiler();
        const problems: string[] = [];
        if (o.family && info.family !== o.family) problems.push(`family is "${info.family}", expected "${o.family}"`);
        if (!info.version) problems.push("version is empty");
        if (!info.versionText) problems.push("versionText is empty: put in it whatever tells one build of the compiler from another");
        if (problems.length) throw new ConformanceFailure(`detection of ${o.compiler}`, problems);
      },
    },
    ...(o.notMine ?? []).map((other) => ({
      name: `does not claim ${other}`,
      run: async () => {
        const info = await (await getHarness()).detect(other, env);
        if (info) throw new ConformanceFailure(`detection of ${other}`, [`claimed it as family "${info.family}"; return undefined for compilers that are not yours`]);
      },
    })),
    ...o.cacheable.map((c) => ({
      name: `parses "${show(c.args)}" as cacheable, reading input.env only`,
      run: async () => {
        const h = await getHarness();
        const compiler = await getCompiler();
        const dir = project(c.files);
        const { result, processEnvReads } = h.parse(compiler, c.args, dir, { ...env, ...c.env });
        const problems: string[] = [];
        if (!result) problems.push("parseArguments returned undefined");
        else if (!result.cacheable) problems.push(`not cacheable: ${result.reason}${result.detail ? ` (${result.detail})` : ""}`);
        else {
          const paths = result.invocation.outputs.map((out) => out.path);
          for (const out of c.outputs) if (!paths.includes(join(dir, out))) problems.push(`outputs do not list ${join(dir, out)} (they list ${paths.join(", ") || "nothing"})`);
          if (!result.invocation.compileArgv.includes(compiler.path) && result.invocation.compileArgv[0] !== compiler.path) {
            problems.push(`compileArgv does not run the compiler (${compiler.path})`);
          }
        }
        if (processEnvReads.length) problems.push(`read process.env (${processEnvReads.join(", ")}): read input.env, the caller's environment, instead`);
        if (problems.length) throw new ConformanceFailure(`parseArguments of "${show(c.args)}"`, problems);
      },
    })),
    ...(o.notCacheable ?? []).map((c) => ({
      name: `does not cache "${show(c.args)}"${c.reason ? ` (${c.reason})` : ""}`,
      run: async () => {
        const h = await getHarness();
        const { result } = h.parse(await getCompiler(), c.args, project(c.files), env);
        if (result?.cacheable !== false) throw new ConformanceFailure(`parseArguments of "${show(c.args)}"`, ["returned a cacheable invocation"]);
        if (c.reason && result.reason !== c.reason) throw new ConformanceFailure(`parseArguments of "${show(c.args)}"`, [`reason is "${result.reason}", expected "${c.reason}"`]);
      },
    })),
    ...o.cacheable.map((c) => ({
      name: `a miss and a hit of "${show(c.args)}" write what a plain compile writes, byte for byte`,
      run: async () => {
        const compiler = await getCompiler();
        const pluginName = (await getHarness()).plugin.name;
        const dir = project(c.files);
        const extra = c.env ?? {};
        removeOutputs(dir, c.outputs);
        const plain = observe(dir, c.outputs, await reprise.plain([compiler.path, ...c.args], dir, extra));
        if (plain.exitCode !== 0) throw new ConformanceFailure(`plain compile of "${show(c.args)}"`, [`failed (${plain.exitCode}): ${plain.stderr}`]);
        const before = (await reprise.stats(dir)).stats.byPlugin?.[pluginName] ?? { hits: 0, misses: 0 };
        removeOutputs(dir, c.outputs);
        const miss = observe(dir, c.outputs, await reprise.reprise([o.compiler, ...c.args], dir, extra));
        removeOutputs(dir, c.outputs);
        const hit = observe(dir, c.outputs, await reprise.reprise([o.compiler, ...c.args], dir, extra));
        const problems = [...differences("miss", miss, plain), ...differences("hit", hit, plain)];
        const after = (await reprise.stats(dir)).stats.byPlugin?.[pluginName] ?? { hits: 0, misses: 0 };
        if (after.misses - before.misses !== 1 || after.hits - before.hits !== 1) {
          problems.push(`stats of ${pluginName}: ${after.misses - before.misses} misses and ${after.hits - before.hits} hits, expected 1 and 1 (see ${join(root, "run", "daemon.log")})`);
        }
        if (problems.length) throw new ConformanceFailure(`caching "${show(c.args)}"`, problems);
      },
    })),
  ];
  return {
    checks,
    dispose: async () => {
      await reprise.stop().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
