import { describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.js";
import { SandboxSelector, SandboxUnavailableError, sandboxNames } from "../../src/sandbox/select-sandbox.js";
import type { Sandbox } from "../../src/sandbox/types.js";

/** A sandbox plugin serving `name`, usable or not. */
function fakePlugin(pluginName: string, name: string, usable: boolean | string, made: string[] = []) {
  return {
    name: pluginName,
    apply(engine: Engine) {
      engine.hooks.createSandbox.tap(pluginName, (settings) => {
        if (settings.name !== name) return undefined;
        made.push(`${pluginName}:${JSON.stringify(settings.options ?? {})}`);
        const sandbox: Sandbox = {
          name,
          probe: async () => (usable === true ? { usable: true } : { usable: false, reason: typeof usable === "string" ? usable : "not here" }),
          run: async () => {
            throw new Error("not run in this test");
          },
        };
        return sandbox;
      });
    },
  };
}

describe("SandboxSelector", () => {
  it("takes the first sandbox the setting names that is usable here", async () => {
    const engine = new Engine().use(fakePlugin("p-a", "a", "a is missing")).use(fakePlugin("p-b", "b", true)).use(fakePlugin("p-c", "c", true));
    const selector = new SandboxSelector(engine);
    expect((await selector.select("a,b,c")).name).toBe("b");
    expect((await selector.select("c, b")).name).toBe("c");
    expect(sandboxNames(" bwrap , docker,,")).toEqual(["bwrap", "docker"]);
  });

  it("takes the next plugin serving the same name when the first one's sandbox is not usable here", async () => {
    const engine = new Engine().use(fakePlugin("third-party-docker", "docker", "its daemon is down")).use(fakePlugin("first-party-docker", "docker", true));
    const chosen = await new SandboxSelector(engine).select("docker");
    expect(chosen.name).toBe("docker");
    expect((await chosen.probe()).usable).toBe(true);
    const none = new Engine().use(fakePlugin("one", "docker", "no engine")).use(fakePlugin("two", "docker", "no runtime"));
    await expect(new SandboxSelector(none).select("docker")).rejects.toThrow('no usable sandbox for "docker": docker (one): no engine; docker (two): no runtime');
  });

  it("is a clear error, never a sandbox, when none is usable: every reason is given", async () => {
    const engine = new Engine().use(fakePlugin("p-a", "a", "a is missing"));
    const selector = new SandboxSelector(engine);
    const err = await selector.select("a,zz").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxUnavailableError);
    expect((err as Error).message).toBe('no usable sandbox for "a,zz": a: a is missing; zz: no sandbox plugin provides "zz" (install @reprise/plugin-sandbox-zz or list a plugin that does in "plugins")');
  });

  it("loads the plugin of a name no plugin serves yet, once, and passes the options on", async () => {
    const engine = new Engine();
    const loads: string[] = [];
    const made: string[] = [];
    const selector = new SandboxSelector(engine, {
      loadPlugin: async (name) => {
        loads.push(name);
        if (name === "b") engine.use(fakePlugin("p-b", "b", true, made));
      },
    });
    expect((await selector.select("a,b", { x: 1 })).name).toBe("b");
    expect((await selector.select("a,b", { x: 2 })).name).toBe("b");
    expect(loads).toEqual(["a", "b"]);
    expect(made).toEqual(['p-b:{"x":1}', 'p-b:{"x":2}']);
  });

  it("remembers a choice, and asks again after a while when none was usable", async () => {
    let usable = false;
    let probes = 0;
    const engine = new Engine();
    engine.hooks.createSandbox.tap("flaky", () => ({
      name: "f",
      probe: async () => {
        probes++;
        return usable ? { usable: true as const } : { usable: false as const, reason: "down" };
      },
      run: async () => {
        throw new Error("unused");
      },
    }));
    const selector = new SandboxSelector(engine, { retryMs: 50 });
    await expect(selector.select("f")).rejects.toThrow(/f: down/);
    usable = true;
    await expect(selector.select("f")).rejects.toThrow(/f: down/);
    await new Promise((r) => setTimeout(r, 80));
    expect((await selector.select("f")).name).toBe("f");
    await selector.select("f");
    expect(probes).toBe(2);
  });

  it("reports a plugin that throws as that sandbox's reason", async () => {
    const engine = new Engine();
    engine.hooks.createSandbox.tap("broken", () => {
      throw new Error("boom");
    });
    await expect(new SandboxSelector(engine).select("x")).rejects.toThrow(/x: its sandbox plugin failed: plugin broken: createSandbox failed: Error: boom/);
  });
});
