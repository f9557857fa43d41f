import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPRISE_BIN, RepriseSandbox, plain, text } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";

let sb: RepriseSandbox;
let proj: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  proj = join(sb.root, "proj");
  mkdirSync(proj, { recursive: true });
  writeFileSync(join(proj, "a.c"), "int a(void) { return 1; }\n");
  // A third-party plugin, loaded from a path named in config, using only the public hooks.
  writeFileSync(
    join(proj, "audit-plugin.mjs"),
    `import { appendFileSync } from "node:fs";
export default function audit(options) {
  return {
    name: "audit",
    apply(engine) {
      engine.hooks.extendKey.tap("audit", (hasher) => { hasher.add("audit-salt", options.salt); });
      engine.hooks.callFinished.tapPromise("audit", async (o) => { appendFileSync(options.log, o.result + "\\n"); });
    },
  };
}
`,
  );
});

afterAll(async () => {
  await sb.dispose();
});

describe("config", () => {
  it("a plugin named by path in .repriserc.json taps the hooks with its options", async () => {
    const log = join(sb.root, "audit.log");
    writeFileSync(join(proj, ".repriserc.json"), JSON.stringify({ plugins: ["@reprise/plugin-gcc", ["./audit-plugin.mjs", { salt: "one", log }]] }));
    await sb.run(["--stop-server"], proj);
    expect((await sb.run(["--start-server"], proj)).exitCode).toBe(0);
    await expectSameAsPlain(sb, proj, ["gcc", "-c", "a.c", "-o", "a.o"], ["a.o"]);
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["miss", "hit-direct"]);
  });

  it("a bad config names the key, and the build still succeeds", async () => {
    const bad = join(sb.root, "bad");
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, "a.c"), "int a(void) { return 2; }\n");
    writeFileSync(join(bad, "reprise.config.json"), JSON.stringify({ cacheSize: "huge" }));
    const r = await sb.run(["gcc", "-c", "a.c", "-o", "a.o"], bad);
    expect(r.exitCode).toBe(0);
    expect(existsSync(join(bad, "a.o"))).toBe(true);
    const s = await sb.stats();
    expect(s.errors.E_CONFIG).toBeGreaterThanOrEqual(1);
    expect(readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8")).toMatch(/invalid config in .*reprise\.config\.json.*"cacheSize": "huge" is not a size/);
  });
});

describe("colored diagnostics", () => {
  it("on a terminal, a hit replays the colors a plain compile shows; off a terminal, none", async () => {
    const w = join(sb.root, "tty");
    mkdirSync(w, { recursive: true });
    writeFileSync(join(w, "warn.c"), "int f(int a) { if (a = 1) return 2; return 0; }\n");
    const underTty = (cmd: string) => plain("script", ["-qec", cmd, "/dev/null"], w, { ...sb.env(), TERM: "xterm" });
    const ref = text((await underTty("gcc -Wall -c warn.c -o warn.o")).stdout);
    expect(ref).toContain("\u001b[");
    const cmd = `${process.execPath} ${REPRISE_BIN} gcc -Wall -c warn.c -o warn.o`;
    const first = text((await underTty(cmd)).stdout);
    const second = text((await underTty(cmd)).stdout);
    expect(first).toBe(ref);
    expect(second).toBe(ref);
    const piped = await sb.run(["gcc", "-Wall", "-c", "warn.c", "-o", "warn.o"], w, { env: { TERM: "xterm" } });
    expect(text(piped.stderr)).toContain("warning");
    expect(text(piped.stderr)).not.toContain("\u001b[");
  });
});
