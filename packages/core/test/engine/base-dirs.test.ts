import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pathSharing, type ReplayedParts } from "../../src/engine/base-dirs.js";
import type { BindingMarkers, CompileInvocation, PathRecording } from "../../src/engine/types.js";

const REMAPPED: PathRecording = { debugInfo: true, debugMaps: [], fileTokens: [], macroMaps: [], unmappable: false, relocatable: { outputs: ["dep-info"], streams: true } };

function call(cwd: string, outDir: string, rec: Partial<PathRecording> = {}): CompileInvocation {
  const base = ["/home/a/proj", "/builds/second/proj", "/with space/proj"].find((b) => outDir.startsWith(`${b}/`))!;
  return {
    language: "rust",
    sourceFile: `${cwd}/src/lib.rs`,
    outputs: [
      { role: "rlib", path: `${outDir}/libx.rlib` },
      { role: "dep-info", path: `${outDir}/x.d` },
    ],
    keyArgs: [],
    preprocessorOnlyArgs: [],
    compileArgv: ["rustc"],
    dependencies: { depFile: `${outDir}/x.d` },
    keyEnv: [],
    volatileMarkers: [],
    dependsOnCwd: true,
    colorDiagnostics: false,
    extraInputFiles: [],
    pathRecording: { ...REMAPPED, debugMaps: [base], macroMaps: [base], ...rec },
  };
}

const BASES = ["/builds/second/proj", "/with space/proj", "/home/a/proj"];

function parts(dep: string, stderr = "", rlib = "rlib bytes"): ReplayedParts {
  return { outputs: [{ role: "rlib", data: Buffer.from(rlib) }, { role: "dep-info", data: Buffer.from(dep) }], stdout: Buffer.alloc(0), stderr: Buffer.from(stderr) };
}

const text = (p: ReplayedParts) => ({ dep: p.outputs[1]!.data.toString(), rlib: p.outputs[0]!.data.toString(), stderr: p.stderr.toString() });

describe("baseDirs: outputs that name the checkout as plain text are stored relative to it and restored for the next", () => {
  const a = pathSharing(BASES, "/home/a/proj", call("/home/a/proj", "/home/a/proj/target/debug/deps"))!;
  const b = pathSharing(BASES, "/builds/second/proj", call("/builds/second/proj", "/builds/second/proj/target/debug/deps"))!;

  it("rewrites the dep-info's paths and the artifact notifications, and not the other outputs", () => {
    const written = parts(
      "/home/a/proj/target/debug/deps/x.d: src/lib.rs /home/a/proj/target/debug/build/x-1/out/gen.rs /usr/share/cargo/registry/y/lib.rs\n",
      '{"artifact":"/home/a/proj/target/debug/deps/libx.rmeta","emit":"metadata"}\n',
    );
    const stored = a.stored(written);
    expect(a.boundBy(stored)).toBe(false);
    expect(text(a.restored(stored))).toEqual(text(written));
    expect(text(b.restored(stored))).toEqual({
      dep: "/builds/second/proj/target/debug/deps/x.d: src/lib.rs /builds/second/proj/target/debug/build/x-1/out/gen.rs /usr/share/cargo/registry/y/lib.rs\n",
      rlib: "rlib bytes",
      stderr: '{"artifact":"/builds/second/proj/target/debug/deps/libx.rmeta","emit":"metadata"}\n',
    });
  });

  it("leaves a longer name holding the base directory alone, and the entry then stays with its checkout", () => {
    for (const other of ["/home/a/proj2/lib.rs", "/x/home/a/proj/lib.rs", "/home/a/proj.old/lib.rs"]) {
      const stored = a.stored(parts(`/home/a/proj/target/x.d: ${other}\n`));
      expect(text(stored).dep).toContain(other);
      expect(a.boundBy(stored), other).toBe(true);
      expect(text(a.restored(stored)).dep).toBe(`/home/a/proj/target/x.d: ${other}\n`);
    }
  });

  it("keeps the entry with its checkout when an output that is not relocatable names it", () => {
    expect(a.boundBy(a.stored(parts("src/lib.rs:\n", "", "debug info of /home/a/proj/src/lib.rs")))).toBe(true);
  });

  it("does not relocate a base directory a dep-info file or JSON would escape (a space)", () => {
    const s = pathSharing(BASES, "/with space/proj", call("/with space/proj", "/with space/proj/target"))!;
    expect(s.relocates).toBe(false);
    const stored = s.stored(parts("/with\\ space/proj/target/x.d: src/lib.rs\n", '{"artifact":"/with space/proj/target/libx.rmeta"}'));
    expect(s.boundBy(stored)).toBe(true);
  });

  it("binds the entry when an output holds a binding marker (rustc: a proc macro it could load), from the arguments or from files in a directory", () => {
    const named = pathSharing(BASES, "/home/a/proj", call("/home/a/proj", "/home/a/proj/target", { bindingMarkers: { names: ["embed_dir"], outputsShow: true } }))!;
    expect(named.boundBy(named.stored(parts("src/lib.rs:\n", "", "rmeta ... embed_dir ...")))).toBe(true);
    expect(named.boundBy(named.stored(parts("src/lib.rs:\n", "", "rmeta ... memchr ...")))).toBe(false);

    const deps = mkdtempSync(join(tmpdir(), "reprise-markers-"));
    try {
      writeFileSync(join(deps, "libserde_derive-bb99573673677c88.so"), "");
      writeFileSync(join(deps, "libserde-ffdf2c73cff7e86c.rlib"), "");
      const filesIn = { dirs: [deps, join(deps, "missing")], pattern: "^lib(.+?)-[0-9a-f]{16}\\.so$" };
      const listed = pathSharing(BASES, "/home/a/proj", call("/home/a/proj", "/home/a/proj/target", { bindingMarkers: { names: [], filesIn, outputsShow: true } }))!;
      expect(listed.boundBy(listed.stored(parts("src/lib.rs:\n", "", "rmeta ... serde_derive ...")))).toBe(true);
      expect(listed.boundBy(listed.stored(parts("src/lib.rs:\n", "", "rmeta ... serde ...")))).toBe(false);
      // Outputs that would not show a marker (a program): any marker binds, unless files that name what it loads are given.
      const program = (m: Partial<BindingMarkers>) =>
        pathSharing(BASES, "/home/a/proj", call("/home/a/proj", "/home/a/proj/target", { bindingMarkers: { names: [], filesIn, outputsShow: false, ...m } }))!;
      const elf = parts("src/main.rs:\n", "", "ELF");
      expect(program({}).boundBy(elf)).toBe(true);
      expect(program({ filesIn: { ...filesIn, dirs: [join(deps, "missing")] } }).boundBy(elf)).toBe(false);
      writeFileSync(join(deps, "libuses_derive.rmeta"), "rmeta ... serde_derive ...");
      writeFileSync(join(deps, "libplain.rmeta"), "rmeta ... memchr ...");
      expect(program({ shownIn: [join(deps, "libplain.rmeta")] }).boundBy(elf)).toBe(false);
      expect(program({ shownIn: [join(deps, "libplain.rmeta"), join(deps, "libuses_derive.rmeta")] }).boundBy(elf)).toBe(true);
      expect(program({ shownIn: [join(deps, "unreadable.rmeta")] }).boundBy(elf), "a file that cannot be read").toBe(true);
      expect(program({ names: ["embed_dir"], shownIn: [join(deps, "libplain.rmeta")] }).boundBy(elf), "an --extern proc macro").toBe(true);
    } finally {
      rmSync(deps, { recursive: true, force: true });
    }
  });

  it("takes the base directory of the outputs when the cwd is outside every one (cargo compiles a registry crate in its own directory)", () => {
    const registry = pathSharing(BASES, "/usr/share/cargo/registry/y", call("/usr/share/cargo/registry/y", "/home/a/proj/target/debug/deps"));
    expect(registry?.root).toBe("/home/a/proj");
    expect(registry?.relative("/usr/share/cargo/registry/y")).toBe("/usr/share/cargo/registry/y");
  });

  it("stores output that already holds the placeholder's bytes as it is (a swap that could not be undone)", () => {
    const odd = parts("/home/a/proj/x.d: \u0000reprise-base-dir\u0000\n");
    expect(a.stored(odd).outputs[1]!.data).toBe(odd.outputs[1]!.data);
    expect(a.boundBy(a.stored(odd))).toBe(true);
  });
});
