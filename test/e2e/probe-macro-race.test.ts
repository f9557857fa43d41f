// A header probing `__has_include(MACRO)`: the miss's result is kept under
// its preprocessed text's key, preprocessed after the compile. A header that
// appears between the compile and that preprocessing (another build step
// writing it) changes the text: the result must not go under the new text's
// key, or the next call would get an object compiled without it. A project
// plugin tapping `compileMiss` runs the real compile, then writes the header,
// which makes the race happen every time.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

const RACE_PLUGIN = `import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
export default {
  name: "header-after-compile",
  apply(engine) {
    engine.hooks.compileMiss.tapPromise("header-after-compile", async (ctx) => {
      const [cmd, ...args] = ctx.invocation.compileArgv;
      const started = Date.now();
      const r = spawnSync(cmd, args, { cwd: ctx.request.cwd, env: ctx.invocation.compileEnv ?? ctx.request.env });
      const cwd = ctx.request.cwd;
      if (existsSync(join(cwd, "write-after-compile"))) writeFileSync(join(cwd, "a/opt.h"), "#define HAVE_OPT 1\\n");
      return { exitCode: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, durationMs: Date.now() - started };
    });
  },
};
`;

let sb: RepriseSandbox;
let dir: string;
const ARGV = ["gcc", "-Ia", "-c", "x.c", "-o", "x.o"];

async function build() {
  const before = await sb.stats();
  const r = await sb.run(ARGV, dir);
  expect(r.exitCode, text(r.stderr)).toBe(0);
  const after = await sb.stats();
  return { misses: after.misses - before.misses, hits: after.hitsDirect + after.hitsPreprocessor - before.hitsDirect - before.hitsPreprocessor };
}

async function plainObject(): Promise<Buffer> {
  const r = await plain("gcc", ["-Ia", "-c", "x.c", "-o", "x.plain.o"], dir);
  expect(r.exitCode).toBe(0);
  const out = readFileSync(join(dir, "x.plain.o"));
  rmSync(join(dir, "x.plain.o"));
  return out;
}

describe("a header probing __has_include(MACRO), and a header appearing right after the compile", () => {
  beforeAll(() => {
    sb = new RepriseSandbox({}, "native");
    dir = join(sb.root, "race");
    mkdirSync(join(dir, "a"), { recursive: true });
    writeFileSync(join(dir, "a/keep"), "");
    writeFileSync(join(dir, "race-plugin.mjs"), RACE_PLUGIN);
    writeFileSync(join(dir, ".repriserc.json"), JSON.stringify({ plugins: ["@reprise/plugin-gcc", "./race-plugin.mjs"] }));
    writeFileSync(join(dir, "cfg.h"), "#define OPT <opt.h>\n#if __has_include(OPT)\n#include OPT\n#else\n#define HAVE_OPT 0\n#endif\n");
    writeFileSync(join(dir, "x.c"), '#include "cfg.h"\nint x = HAVE_OPT;\n');
  });

  afterAll(async () => {
    await sb?.dispose();
  });

  it("does not keep the object under the text the new header gives; the next call compiles it", async () => {
    writeFileSync(join(dir, "write-after-compile"), "");
    const first = await build();
    expect(first.misses).toBe(1);
    expect(existsSync(join(dir, "a/opt.h")), "the plugin wrote the header after the compile").toBe(true);
    rmSync(join(dir, "write-after-compile"));
    // The object of the state the compile saw (no opt.h): the next call's state has it.
    const second = await build();
    expect(second.misses, "served from an entry compiled without the header now there").toBe(1);
    expect(readFileSync(join(dir, "x.o")).equals(await plainObject()), "x.o differs from a plain compile").toBe(true);
    const third = await build();
    expect(third.hits).toBe(1);
    expect(readFileSync(join(dir, "x.o")).equals(await plainObject())).toBe(true);
  }, 120_000);
});
