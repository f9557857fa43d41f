import { describe, expect, it } from "vitest";
import { outputAdapter } from "../../src/engine/adapt-outputs.js";
import { Engine } from "../../src/engine/engine.js";
import { textReadingFor } from "../../src/engine/text-reading.js";
import type { CompilerProbe } from "../../src/engine/hooks.js";
import type { ParseInput } from "../../src/engine/types.js";
import { PluginError, RepriseError } from "../../src/util/errors.js";

const probe: CompilerProbe = { path: "/usr/bin/cc", realPath: "/usr/bin/gcc-12", invokedName: "cc", run: async () => ({ stdout: "", stderr: "", exitCode: 0 }) };
const input = { argv: ["/usr/bin/cc", "-c", "a.c"], cwd: "/w", env: {}, compiler: {} as ParseInput["compiler"], stderrIsTTY: false, tempPath: (s: string) => `/tmp/x${s}` } satisfies ParseInput;
const invocation = {
  language: "c",
  sourceFile: "/w/a.c",
  outputs: [{ role: "object", path: "/w/a.o" }],
  keyArgs: ["-c"],
  preprocessorOnlyArgs: [],
  compileArgv: ["/usr/bin/cc", "-c", "a.c"],
  dependencies: { none: true },
  keyEnv: [],
  volatileMarkers: [],
  dependsOnCwd: false,
  colorDiagnostics: false,
  extraInputFiles: [],
};

function engineWith(name: string, apply: (e: Engine) => void): Engine {
  return new Engine().use({ name, apply });
}

describe("what plugins return is checked at the hook boundary, and errors name the plugin", () => {
  it("a valid parse result passes through as the plugin's own object", () => {
    const result = { cacheable: true as const, invocation };
    const e = engineWith("good", (en) => en.hooks.parseArguments.for("cc").tap("good", () => result));
    expect(e.hooks.parseArguments.get("cc")!.call(input)).toBe(result);
  });

  it("a parse result missing keyEnv names the plugin and the field, instead of 'inv.keyEnv is not iterable'", () => {
    const { keyEnv: _, ...withoutKeyEnv } = invocation;
    const e = engineWith("reprise-plugin-x", (en) => en.hooks.parseArguments.for("cc").tap("some-tap", () => ({ cacheable: true, invocation: withoutKeyEnv }) as never));
    expect(() => e.hooks.parseArguments.get("cc")!.call(input)).toThrow(
      'plugin reprise-plugin-x: parseArguments.for("cc") returned an invalid result: invocation.keyEnv: must be an array of strings',
    );
  });

  it("lists of strings are checked whole: an empty argv, a non-string argument and a hole in a list are each refused, naming the field", () => {
    const sparse = ["-c"];
    sparse[2] = "a.c";
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ compileArgv: [] }, "invocation.compileArgv: must be a non-empty array of strings"],
      [{ keyArgs: ["-c", 2] }, "invocation.keyArgs: must be an array of strings"],
      [{ extraInputFiles: sparse }, "invocation.extraInputFiles: must be an array of strings"],
      [{ jobArgv: "cc -c a.c" }, "invocation.jobArgv: must be a non-empty array of strings"],
    ];
    for (const [change, message] of cases) {
      const e = engineWith("lists", (en) => en.hooks.parseArguments.for("cc").tap("lists", () => ({ cacheable: true, invocation: { ...invocation, ...change } }) as never));
      expect(() => e.hooks.parseArguments.get("cc")!.call(input)).toThrow(`plugin lists: parseArguments.for("cc") returned an invalid result: ${message}`);
    }
  });

  it("the fields of shared entries pass (adapt, pathRecording, preprocessedDeterminesOutputs); a malformed pathRecording is refused", () => {
    const pathRecording = { debugInfo: true, debugMaps: ["/w"], fileTokens: ["__FILE__"], macroMaps: [], unmappable: false };
    const shared = {
      ...invocation,
      outputs: [...invocation.outputs, { role: "dep", path: "/w/a.d", adapt: { targets: ["a.o"] } }],
      pathRecording,
      preprocessedDeterminesOutputs: true,
    };
    const result = { cacheable: true as const, invocation: shared };
    const e = engineWith("shared", (en) => en.hooks.parseArguments.for("cc").tap("shared", () => result));
    expect(e.hooks.parseArguments.get("cc")!.call(input)).toBe(result);
    const { debugMaps: _, ...withoutMaps } = pathRecording;
    const bad = engineWith("bad", (en) => en.hooks.parseArguments.for("cc").tap("bad", () => ({ cacheable: true, invocation: { ...shared, pathRecording: withoutMaps } }) as never));
    expect(() => bad.hooks.parseArguments.get("cc")!.call(input)).toThrow(/plugin bad: .*invocation\.pathRecording\.debugMaps/);
  });

  it("adaptOutput must give a Buffer or null; a refused or failing tap is a PluginError naming the plugin, like any hook's", () => {
    const output = { role: "dep", path: "/w/a.d", adapt: {} };
    const compiler = { family: "cc" } as ParseInput["compiler"];
    const stored = Buffer.from("a.o: a.c\n");
    const ok = engineWith("ok", (en) => en.hooks.adaptOutput.for("cc").tap("ok", (i) => i.data));
    expect(outputAdapter(ok, compiler, invocation as never)(output, stored)).toBe(stored);
    const wrong = engineWith("wrong", (en) => en.hooks.adaptOutput.for("cc").tap("wrong", () => "a.o: a.c\n" as never));
    expect(() => outputAdapter(wrong, compiler, invocation as never)(output, stored)).toThrow(/plugin wrong: adaptOutput\.for\("cc"\) returned an invalid result/);
    const none = engineWith("none", (en) => en.hooks.adaptOutput.for("cc").tap("none", () => null));
    expect(outputAdapter(none, compiler, invocation as never)(output, stored)).toBeUndefined();
    const throwing = engineWith("throwing", (en) =>
      en.hooks.adaptOutput.for("cc").tap("throwing", () => {
        throw new Error("cannot read the rule");
      }),
    );
    expect(() => outputAdapter(throwing, compiler, invocation as never)(output, stored)).toThrow("plugin throwing: adaptOutput.for(\"cc\") failed: Error: cannot read the rule");
  });

  it("textDigest must give { text: Buffer | null }; the engine's reading counts a refused or failing tap as no text", () => {
    const inv = { ...invocation, preprocessedDeterminesOutputs: true, textDigest: { dialect: "c" } };
    const data = Buffer.from("int a; // x\n");
    const ok = engineWith("ok", (en) => en.hooks.textDigest.for("cc").tap("ok", () => ({ text: Buffer.from("int a;\n") })));
    expect(textReadingFor(ok, "cc", inv as never)!.read(data).text?.toString()).toBe("int a;\n");
    const wrong = engineWith("wrong", (en) => en.hooks.textDigest.for("cc").tap("wrong", () => ({ text: "int a;" }) as never));
    expect(() => wrong.hooks.textDigest.get("cc")!.call({ data, dialect: "c" })).toThrow(/plugin wrong: textDigest\.for\("cc"\) returned an invalid result/);
    expect(textReadingFor(wrong, "cc", inv as never)!.read(data)).toEqual({ text: null });
    const throwing = engineWith("throwing", (en) =>
      en.hooks.textDigest.for("cc").tap("throwing", () => {
        throw new Error("lexer bug");
      }),
    );
    expect(textReadingFor(throwing, "cc", inv as never)!.read(data)).toEqual({ text: null });
    // No text digests for a call whose plugin does not say the text determines its outputs.
    expect(textReadingFor(ok, "cc", { ...inv, preprocessedDeterminesOutputs: undefined } as never)).toBeUndefined();
    expect(textReadingFor(ok, "cc", invocation as never)).toBeUndefined();
  });

  it("wrong types and relative paths are refused with the field's path", () => {
    const e = engineWith("p", (en) =>
      en.hooks.parseArguments.for("cc").tap("p", () => ({ cacheable: true, invocation: { ...invocation, outputs: [{ role: "object", path: "a.o" }] } })),
    );
    expect(() => e.hooks.parseArguments.get("cc")!.call(input)).toThrow(/invocation\.outputs\.0\.path: must be an absolute path/);
    const f = engineWith("q", (en) => en.hooks.parseArguments.for("cc").tap("q", () => ({ cacheable: false }) as never));
    expect(() => f.hooks.parseArguments.get("cc")!.call(input)).toThrow(/plugin q: .*reason/);
  });

  it("an exception thrown by a sync, promise or callback tap becomes a PluginError naming the plugin", async () => {
    const sync = engineWith("sync-plugin", (en) =>
      en.hooks.parseArguments.for("cc").tap("sync-plugin", () => {
        throw new TypeError("x is undefined");
      }),
    );
    const err = (() => {
      try {
        sync.hooks.parseArguments.get("cc")!.call(input);
      } catch (e) {
        return e as PluginError;
      }
    })();
    expect(err).toBeInstanceOf(PluginError);
    expect(err!.plugin).toBe("sync-plugin");
    expect(err!.message).toBe('plugin sync-plugin: parseArguments.for("cc") failed: TypeError: x is undefined');

    const promise = engineWith("promise-plugin", (en) => en.hooks.detectCompiler.tapPromise("t", async () => Promise.reject(new Error("boom"))));
    await expect(promise.hooks.detectCompiler.promise(probe)).rejects.toThrow("plugin promise-plugin: detectCompiler failed: Error: boom");

    const callback = engineWith("callback-plugin", (en) => en.hooks.detectCompiler.tapAsync("t", (_p, cb) => cb(new Error("late"))));
    await expect(callback.hooks.detectCompiler.promise(probe)).rejects.toThrow("plugin callback-plugin: detectCompiler failed: Error: late");
  });

  it("a RepriseError a plugin throws on purpose keeps its code and message, and carries the plugin's name", () => {
    const e = engineWith("careful", (en) =>
      en.hooks.parseArguments.for("cc").tap("careful", () => {
        throw new RepriseError("response file unreadable", "E_RSP");
      }),
    );
    try {
      e.hooks.parseArguments.get("cc")!.call(input);
      expect.unreachable();
    } catch (err) {
      expect((err as RepriseError).code).toBe("E_RSP");
      expect((err as RepriseError).message).toBe("response file unreadable");
      expect((err as { plugin?: string }).plugin).toBe("careful");
    }
  });

  it("a detection is checked and told which plugin made it; a tapPromise tap that returns no promise is named", async () => {
    const e = engineWith("detector", (en) =>
      en.hooks.detectCompiler.tapPromise("detector", async (p) => ({ family: "cc", path: p.path, realPath: p.realPath, version: "1", versionText: "cc 1" })),
    );
    expect(await e.hooks.detectCompiler.promise(probe)).toMatchObject({ family: "cc", plugin: "detector" });
    const bad = engineWith("half", (en) => en.hooks.detectCompiler.tapPromise("half", async (p) => ({ family: "cc", path: p.path }) as never));
    await expect(bad.hooks.detectCompiler.promise(probe)).rejects.toThrow(/plugin half: detectCompiler returned an invalid result: realPath/);
    const notPromise = engineWith("sync-in-disguise", (en) => en.hooks.detectCompiler.tapPromise("s", (() => undefined) as never));
    await expect(notPromise.hooks.detectCompiler.promise(probe)).rejects.toThrow("plugin sync-in-disguise: detectCompiler was tapped with tapPromise but did not return a promise");
  });

  it("a storage or sandbox without the members the engine calls is refused", () => {
    const e = engineWith("store", (en) => en.hooks.createStorage.tap("store", () => ({ kind: "s3", location: "bucket", read: async () => undefined }) as never));
    expect(() => e.hooks.createStorage.call({ kind: "s3", dir: "/c", maxSizeBytes: 1 })).toThrow(/plugin store: createStorage returned an invalid result: write: must be a function/);
    const s = engineWith("box", (en) => en.hooks.createSandbox.tap("box", () => ({ name: "fc", probe: async () => ({ usable: true }) }) as never));
    expect(() => s.hooks.createSandbox.call({ name: "fc" })).toThrow(/plugin box: createSandbox returned an invalid result: run: must be a function/);
  });

  it("taps made outside apply are named by their tap name", () => {
    const e = new Engine();
    e.hooks.parseArguments.for("cc").tap("late-tap", () => {
      throw new Error("no");
    });
    expect(() => e.hooks.parseArguments.get("cc")!.call(input)).toThrow("plugin late-tap:");
  });
});

describe("the dependency list's quick check says yes only to what its schema accepts", () => {
  it("agrees with the schema wherever it accepts, on lists valid and not", async () => {
    const { dependencyListSchema, plainDependencyList } = await import("../../src/engine/plugin-results.js");
    // eslint-disable-next-line no-sparse-arrays
    const sparse = ["/a", , "/b"];
    const cases: unknown[] = [
      null,
      [],
      ["/usr/include/stdio.h", "/w/a.h"],
      ["/a", "relative.h"],
      ["/a", ""],
      ["/a", 3],
      sparse,
      { files: ["/a"] },
      { files: ["/a"], identities: new Map([["/a", {}]]) },
      { identities: new Map() },
      { files: undefined },
      { files: ["/a"], extra: 1 },
      { files: ["x"] },
      { identities: {} },
      Object.assign(Object.create({ inherited: true }) as object, { files: ["/a"] }),
      "nope",
      undefined,
    ];
    let accepted = 0;
    for (const c of cases) {
      const schemaSays = dependencyListSchema.safeParse(c).success;
      if (plainDependencyList(c)) {
        accepted++;
        expect(schemaSays, JSON.stringify(c)).toBe(true);
      }
    }
    expect(accepted).toBe(7);
  });

  it("a plugin's malformed list is still refused with the field named", () => {
    const e = engineWith("lister", (en) => en.hooks.listDependencies.for("cc").tap("lister", () => ({ files: ["/a", "b.h"] }) as never));
    expect(() => e.hooks.listDependencies.get("cc")!.call({} as never)).toThrow(/plugin lister: listDependencies\.for\("cc"\) returned an invalid result: files\.1/);
  });
});
