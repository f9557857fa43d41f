// A real GNU make 4.4 (built from Debian trixie's source by scripts/fetch-make44.sh; Debian 12 has 4.3) names its
// jobserver by a FIFO whose path changes on every run and passes it to every recipe in MAKEFLAGS. The native client
// answers only requests it has seen, so without the jobserver words left out of the request's name no call of a
// `make -jN` rebuild ever reached it. This runs the real make: a warm rebuild is answered by the native client,
// every object byte-identical to a plain build's.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientCommand, REPO_ROOT, RepriseSandbox, text } from "../support/reprise-env.js";

const UNITS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let make: string;
let sb: RepriseSandbox;
let project: string;

function writeProject(dir: string): void {
  mkdirSync(join(dir, "src/include"), { recursive: true });
  // The compiles run in a sub-make, as in lua's and many autotools builds; each recipe records the MAKEFLAGS it saw.
  writeFileSync(join(dir, "Makefile"), "all:\n\t$(MAKE) -C src\nclean:\n\t$(MAKE) -C src clean\n");
  writeFileSync(
    join(dir, "src/Makefile"),
    `OBJS = ${UNITS.map((u) => `${u}.o`).join(" ")}\n` +
      "all: $(OBJS)\n" +
      "%.o: %.c include/common.h\n\t@printf '%s\\n' \"$$MAKEFLAGS\" >> makeflags.log\n\t$(CC) -g -O1 -Iinclude -c $< -o $@\n" +
      "clean:\n\trm -f $(OBJS) makeflags.log\n",
  );
  writeFileSync(join(dir, "src/include/common.h"), "#define SCALE 7\nint helper(int);\n");
  UNITS.forEach((u, i) => writeFileSync(join(dir, `src/${u}.c`), `#include "common.h"\nint ${u}(int x) { return x * SCALE + ${i}; }\n`));
}

function objects(dir: string): Record<string, Buffer> {
  return Object.fromEntries(UNITS.map((u) => [u, readFileSync(join(dir, `src/${u}.o`))]));
}

/** The jobserver words of the MAKEFLAGS the recipes saw (one FIFO per run). */
function jobservers(dir: string): Set<string> {
  const words = readFileSync(join(dir, "src/makeflags.log"), "utf8").split(/\s+/).filter((w) => w.startsWith("--jobserver-auth="));
  return new Set(words);
}

async function build(dir: string, cc: string, env: Record<string, string>) {
  const r = await execa(make, ["-j2", `CC=${cc}`], { cwd: dir, env, extendEnv: false, reject: false, all: true });
  expect(r.exitCode, r.all).toBe(0);
}

async function clean(dir: string, env: Record<string, string>) {
  const r = await execa(make, ["clean"], { cwd: dir, env, extendEnv: false, reject: false, all: true });
  expect(r.exitCode, r.all).toBe(0);
}

function indexEntries(): number {
  const index = join(sb.runtimeDir, "hit-index");
  return existsSync(index) ? readdirSync(index).filter((n) => /^[0-9a-f]{16}$/.test(n)).length : 0;
}

describe("a real GNU make 4.4 rebuild", () => {
  beforeAll(async () => {
    const fetched = await execa("bash", [join(REPO_ROOT, "scripts/fetch-make44.sh")], { reject: false, all: true });
    if (fetched.exitCode !== 0) throw new Error(`scripts/fetch-make44.sh failed (it fetches make's source from Debian trixie):\n${fetched.all}`);
    make = fetched.stdout.trim().split("\n").pop()!;
    sb = new RepriseSandbox({}, "native");
    project = join(sb.root, "project");
    writeProject(project);
  }, 600_000);

  afterAll(async () => {
    await sb?.dispose();
  });

  it("is answered by the native client on a warm rebuild, byte-identical to a plain build", async () => {
    const version = await execa(make, ["--version"]);
    expect(version.stdout.split("\n")[0]).toMatch(/^GNU Make 4\.([4-9]|\d\d)/);

    const plainEnv = { ...(process.env as Record<string, string>), LC_ALL: "C" };
    await build(project, "gcc", plainEnv);
    const ref = objects(project);
    await clean(project, plainEnv);

    const env = sb.env();
    const cc = [...clientCommand("native"), "gcc"].join(" ");
    await build(project, cc, env); // cold: misses
    await clean(project, env);
    await build(project, cc, env); // the daemon's hits, which it indexes once idle
    const firstFifos = jobservers(project);
    for (let i = 0; i < 300 && indexEntries() < UNITS.length; i++) await sleep(100);
    expect(indexEntries(), sb.daemonLogTail(30)).toBeGreaterThanOrEqual(UNITS.length);
    await clean(project, env);

    const before = await sb.stats();
    await build(project, cc, env);
    const after = await sb.stats();
    const secondFifos = jobservers(project);

    // The real thing: make 4.4 gave the recipes a FIFO jobserver, a different one on each run.
    expect([...firstFifos].every((w) => w.startsWith("--jobserver-auth=fifo:")), [...firstFifos].join(" ")).toBe(true);
    expect(firstFifos.size).toBe(1);
    expect(secondFifos.size).toBe(1);
    expect([...secondFifos][0]).not.toBe([...firstFifos][0]);

    expect(after.hitsByClient - before.hitsByClient, text(JSON.stringify(after.hitIndexSkipped))).toBe(UNITS.length);
    expect(after.misses).toBe(before.misses);
    const got = objects(project);
    for (const u of UNITS) expect(got[u]!.equals(ref[u]!), `${u}.o differs from the plain build's`).toBe(true);
    rmSync(join(project, "src/makeflags.log"), { force: true });
  }, 300_000);
});
