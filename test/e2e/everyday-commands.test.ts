import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox, plain, text } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

/** The everyday commands a ccache user expects: usage, --help, -p, -C, -M, and stats by plugin. */

let sb: RepriseSandbox;
let proj: string;
const GIB = 1024 ** 3;

beforeAll(() => {
  // Idle copies off: one written while the daemon is idle would change the entry count --clear reports.
  sb = new RepriseSandbox({ REPRISE_PREPROCESSOR_FALLBACK_COPIES: "0" });
  proj = join(sb.root, "proj");
  mkdirSync(proj, { recursive: true });
  writeFileSync(join(proj, "a.c"), "int a(void) { return 41 + 1; }\n");
});

afterAll(async () => {
  await sb.dispose();
});

const run = async (args: string[], cwd = proj, env: Record<string, string> = {}) => {
  const r = await sb.run(args, cwd, { env });
  return { exitCode: r.exitCode, stdout: text(r.stdout), stderr: text(r.stderr) };
};

describe("usage and help", () => {
  it("reprise with no arguments prints its usage on stderr and fails", async () => {
    const r = await run([]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^Usage: reprise <compiler>/);
  });

  it("options alone that ask for nothing print the help on stderr and fail", async () => {
    const r = await run(["--json"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("--show-config");
  });

  it("--help names the config files searched, every REPRISE_* variable and where the log is", async () => {
    const r = await run(["--help"]);
    expect(r.exitCode).toBe(0);
    for (const name of [".repriserc.json", "reprise.config.mjs", "package.json", "reprise-cache.json"]) expect(r.stdout).toContain(name);
    expect(r.stdout).toContain(join(process.env.HOME ?? "", ".config/reprise"));
    for (const v of ["REPRISE_DIR", "REPRISE_CACHE_SIZE", "REPRISE_KEY_MODE", "REPRISE_DISABLE", "REPRISE_LOG", "REPRISE_IDLE_TIMEOUT", "REPRISE_MAX_JOBS", "REPRISE_PLUGINS", "REPRISE_STORAGE", "REPRISE_HERMETIC", "REPRISE_RUNTIME_DIR"]) {
      expect(r.stdout).toContain(v);
    }
    expect(r.stdout).toContain(`Log: ${join(sb.runtimeDir, "daemon.log")}`);
    for (const opt of ["-p, --show-config", "-C, --clear", "-M, --max-size <size>"]) expect(r.stdout).toContain(opt);
  });
});

describe("--show-config (-p)", () => {
  it("shows each effective value and where it came from: config file, environment or default", async () => {
    const dir = join(sb.root, "configured");
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, ".repriserc.json"), JSON.stringify({ keyMode: "preprocessor", maxJobs: 1 }));
    const r = await run(["-p"], join(dir, "sub"), { REPRISE_LOG: "debug" });
    expect(r.exitCode, r.stderr).toBe(0);
    const rc = join(dir, ".repriserc.json");
    expect(r.stdout).toContain(`# config file: ${rc}`);
    const lines = r.stdout.split("\n");
    expect(lines).toContain(`(${rc}) keyMode = preprocessor`);
    expect(lines).toContain(`(${rc}) maxJobs = 1`);
    expect(lines).toContain("(environment REPRISE_LOG) logLevel = debug");
    expect(lines).toContain(`(environment REPRISE_DIR) dir = ${sb.cacheDir}`);
    expect(lines).toContain(`(default) cacheSize = ${10 * GIB} (10.00 GiB)`);
    expect(lines).toContain("(default) disable = false");

    const json = JSON.parse((await run(["--show-config", "--json"], dir)).stdout);
    expect(json.configFile).toBe(rc);
    expect(json.settings.keyMode).toEqual({ value: "preprocessor", source: rc });
    expect(json.settings.idleTimeout).toEqual({ value: 120, source: "environment REPRISE_IDLE_TIMEOUT" });
    expect(json.settings.storage.source).toBe("default");
  });

  it("a broken config is reported with the key at fault, and fails", async () => {
    const dir = join(sb.root, "broken");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "reprise.config.json"), JSON.stringify({ keyMod: "direct" }));
    const r = await run(["--show-config"], dir);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/invalid config in .*reprise\.config\.json: unknown key "keyMod"/);
  });
});

describe("--max-size (-M) and --clear (-C)", () => {
  it("--max-size keeps the limit in the cache directory; the daemon and --show-config use it", async () => {
    const r = await run(["-M", "2G"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const file = join(sb.cacheDir, "reprise-cache.json");
    expect(r.stdout).toContain(`in ${file}`);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ cacheSize: "2G" });
    expect((await run(["-p"])).stdout.split("\n")).toContain(`(${file}) cacheSize = ${2 * GIB} (2.00 GiB)`);
    const stats = JSON.parse((await run(["--show-stats", "--json"])).stdout);
    expect(stats.storages.find((s: { location: string }) => s.location === sb.cacheDir).maxSizeBytes).toBe(2 * GIB);
    // The environment still wins, and says so.
    const env = await run(["-p"], proj, { REPRISE_CACHE_SIZE: "3G" });
    expect(env.stdout.split("\n")).toContain(`(environment REPRISE_CACHE_SIZE) cacheSize = ${3 * GIB} (3.00 GiB)`);
  });

  it("--max-size refuses a size it cannot read, and changes nothing", async () => {
    const r = await run(["--max-size", "lots"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('invalid size "lots"');
    expect(JSON.parse(readFileSync(join(sb.cacheDir, "reprise-cache.json"), "utf8"))).toEqual({ cacheSize: "2G" });
  });

  it("--clear removes every entry: the next call is a miss, its object the same as a plain compile's", async () => {
    await expectSameAsPlain(sb, proj, ["gcc", "-c", "a.c", "-o", "a.o"], ["a.o"]);
    const before = JSON.parse((await run(["--show-stats", "--json"])).stdout);
    expect(before.storages[0].entries).toBeGreaterThan(0);
    const r = await run(["-C"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Cleared the cache at ${sb.cacheDir} \\(${before.storages[0].entries} files, `));
    const after = JSON.parse((await run(["--show-stats", "--json"])).stdout);
    expect(after.storages[0].entries).toBe(0);
    // The limit set with --max-size survives a clear.
    expect(existsSync(join(sb.cacheDir, "reprise-cache.json"))).toBe(true);
    await sb.zeroStats();
    rmSync(join(proj, "a.o"), { force: true });
    expect((await run(["gcc", "-c", "a.c", "-o", "a.o"])).exitCode).toBe(0);
    const s = await sb.stats();
    expect(s.misses).toBe(1);
    expect(s.hitsDirect).toBe(0);
    const got = readFileSync(join(proj, "a.o"));
    rmSync(join(proj, "a.o"));
    await plain("gcc", ["-c", "a.c", "-o", "a.o"], proj);
    expect(got.equals(readFileSync(join(proj, "a.o")))).toBe(true);
  });
});

describe("--show-stats", () => {
  it("counts calls by the plugin that handled them, and names the config file in use", async () => {
    await sb.zeroStats();
    rmSync(join(proj, "a.o"), { force: true });
    await run(["gcc", "-c", "a.c", "-o", "a.o"]); // hit (stored by the test above)
    await run(["gcc", "-c", "a.c", "-o", "b.o", "-O1"]); // miss
    await run(["gcc", "-E", "a.c"]); // not cacheable
    const json = JSON.parse((await run(["--show-stats", "--json"])).stdout);
    expect(json.stats.byPlugin).toEqual({ "@reprise/plugin-gcc": { hits: 1, misses: 1, notCacheable: 1, compileFailures: 0, errors: 0 } });
    expect(json.configFile).toBeNull();
    const human = (await run(["--show-stats"])).stdout;
    expect(human).toMatch(/^Plugin @reprise\/plugin-gcc +1 hits, 1 misses, 1 not cacheable$/m);
    expect(human).toMatch(/^Config file +none \(defaults\)$/m);

    const dir = join(sb.root, "with-config");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "reprise.config.json"), JSON.stringify({ keyMode: "direct" }));
    expect((await run(["--show-stats"], dir)).stdout).toMatch(new RegExp(`^Config file +${join(dir, "reprise.config.json")}$`, "m"));
  });
});
