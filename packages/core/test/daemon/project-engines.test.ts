import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SettingsLoader } from "../../src/config/load-settings.js";
import { ProjectEngines } from "../../src/daemon/project-engines.js";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import { Stats } from "../../src/stats/stats.js";
import { silentLogger } from "../../src/util/logger.js";

let root: string;
const env = () => ({ HOME: join(root, "home"), XDG_CONFIG_HOME: join(root, "home", ".config"), REPRISE_DIR: join(root, "cache") });
const PLUGIN = (name: string) => `export default { name: ${JSON.stringify(name)}, apply() {} };\n`;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "reprise-projects-"));
  chmodSync(root, 0o755);
  for (const p of ["a/sub", "b", "none1", "none2", "shared"]) mkdirSync(join(root, p), { recursive: true });
  writeFileSync(join(root, "a", "mine.mjs"), PLUGIN("mine"));
  writeFileSync(join(root, "a", ".repriserc.json"), JSON.stringify({ plugins: ["./mine.mjs"] }));
  writeFileSync(join(root, "b", ".repriserc.json"), JSON.stringify({ plugins: ["@reprise/plugin-gcc"] }));
  // Never connected to: the backend connects on first use.
  writeFileSync(join(root, "shared", ".repriserc.json"), JSON.stringify({ plugins: [], levels: [{ kind: "local" }, { kind: "redis", options: { endpoint: "redis://127.0.0.1:1" } }] }));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function setup() {
  const settings = new SettingsLoader();
  const projects = new ProjectEngines({ hashes: new FileHashCache(), stats: new Stats(), settings, logger: silentLogger });
  const projectOf = async (cwd: string) => projects.for(await settings.load(join(root, cwd), env()), join(root, cwd));
  return { projects, projectOf };
}

const names = (p: { engine: { plugins: { name: string }[] } }) => p.engine.plugins.map((x) => x.name);

describe("one engine per project", () => {
  it("calls of one config file share its engine; another project has its own, with only its plugins", async () => {
    const { projectOf } = setup();
    const a = await projectOf("a");
    expect(await projectOf("a/sub")).toBe(a);
    const b = await projectOf("b");
    expect(b).not.toBe(a);
    expect(names(a)).toEqual(["reprise:local-storage", "mine", "reprise:hermetic"]);
    expect(names(b)).toEqual(["reprise:local-storage", "@reprise/plugin-gcc", "reprise:hermetic"]);
  });

  it("an edited config gets a new engine with the plugins it now lists", async () => {
    const { projectOf } = setup();
    const before = await projectOf("b");
    writeFileSync(join(root, "b", ".repriserc.json"), JSON.stringify({ plugins: ["@reprise/plugin-gcc", "@reprise/plugin-clang"] }));
    const after = await projectOf("b");
    expect(after).not.toBe(before);
    expect(names(after)).toEqual(["reprise:local-storage", "@reprise/plugin-gcc", "@reprise/plugin-clang", "reprise:hermetic"]);
  });

  it("calls without a config file share one engine; the built-in local store is one per cache directory", async () => {
    const { projects, projectOf } = setup();
    const n1 = await projectOf("none1");
    expect(await projectOf("none2")).toBe(n1);
    const a = await projectOf("a");
    const storage = { kind: "local", dir: join(root, "cache"), maxSizeBytes: 1 << 20 };
    expect(a.storages.get(storage)).toBe(n1.storages.get(storage));
    expect(projects.all()).toHaveLength(1);
  });

  it("a plugin that cannot load fails that project's calls and is tried again on the next", async () => {
    const { projectOf } = setup();
    mkdirSync(join(root, "broken"), { recursive: true });
    writeFileSync(join(root, "broken", ".repriserc.json"), JSON.stringify({ plugins: ["later-plugin"] }));
    await expect(projectOf("broken")).rejects.toThrow(/later-plugin: cannot be found/);
    // Installed since: the next call of the same config loads it.
    const pkg = join(root, "broken", "node_modules", "later-plugin");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "later-plugin", type: "module", main: "index.js" }));
    writeFileSync(join(pkg, "index.js"), PLUGIN("later"));
    expect(names(await projectOf("broken"))).toContain("later");
  });

  it("a level's storage backend plugin loads into the engine of the project that names it, not into others", async () => {
    const { projects, projectOf } = setup();
    const shared = await projectOf("shared");
    const none = await projectOf("none1");
    const storage = await shared.storages.forSettings(await new SettingsLoader().load(join(root, "shared"), env()));
    expect(storage.levelStats?.().map((l) => [l.kind, l.state])).toEqual([
      ["local", "closed"],
      ["redis", "closed"],
    ]);
    expect(names(shared)).toContain("@reprise/storage-redis");
    expect(names(none)).not.toContain("@reprise/storage-redis");
    await projects.closeAll();
  });
});
