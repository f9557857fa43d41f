// Reprise as a user gets it from npm: the release tarballs (scripts/pack-release.mjs)
// installed by real npm into fresh projects. The installed `reprise` must be the
// native client itself, hits must be byte-identical, the README's Make and CMake
// commands must work as written, and every fallback (--ignore-scripts, no
// prebuilt, no C compiler) must still compile. The arm64 and armv7 prebuilts
// serve real hits under qemu-user.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, RepriseSandbox, plain, text, type StatsJson } from "../support/reprise-env.js";
import { cargoEnv, findCargo } from "../support/rust-workspace.js";
import { elfMachine, isElf, nodeSpy, npmInstallProject, packRelease, pnpmInstallProject, type Tarballs } from "../support/npm-release.js";

const root = mkdtempSync(join(tmpdir(), "reprise-npm-"));
const marker = join(root, "node-starts.log");
const spyDir = nodeSpy(join(root, "spy"), marker);
// No node_modules/.bin on PATH: what a shell, make or cmake sees after a local install.
const PATH = `${spyDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

let tarballs: Tarballs;
const projects = {
  scripts: join(root, "with-scripts"),
  ignored: join(root, "ignore-scripts"),
  noPrebuilt: join(root, "no-prebuilt"),
  // `npm i -g` into this prefix; the project only holds sources.
  global: join(root, "global-user-project"),
  pnpm: join(root, "pnpm-project"),
};
const globalPrefix = join(root, "global-prefix");
const sandboxes: Record<keyof typeof projects, RepriseSandbox> = {
  scripts: new RepriseSandbox(),
  ignored: new RepriseSandbox(),
  noPrebuilt: new RepriseSandbox(),
  global: new RepriseSandbox(),
  pnpm: new RepriseSandbox(),
};
let noPrebuiltInstallLog = "";

const SOURCES: Record<string, string> = {
  "util.h": "int scale(int x);\n",
  "util.c": '#include "util.h"\nint scale(int x) { return x * 7 + 1; }\n',
  "main.c": '#include <stdio.h>\n#include "util.h"\nint main(void) { printf("%d\\n", scale(6)); return 0; }\n',
  "k.cpp": "#include <vector>\nint k() { std::vector<int> v{1, 2, 3}; return (int)v.size(); }\n",
  Makefile: "OBJS = main.o util.o k.o\nall: $(OBJS)\n%.o: %.c util.h\n\t$(CC) -O2 -c $< -o $@\n%.o: %.cpp\n\t$(CXX) -O2 -c $< -o $@\nclean:\n\trm -f $(OBJS)\n",
  "CMakeLists.txt": "cmake_minimum_required(VERSION 3.16)\nproject(p C CXX)\nadd_library(p STATIC main.c util.c k.cpp)\n",
};

function writeSources(dir: string) {
  for (const [name, body] of Object.entries(SOURCES)) writeFileSync(join(dir, name), body);
}

const bin = (project: string) => join(project, "node_modules/.bin/reprise");

/** A command line in `project` as a user's shell runs it (sh -c), with that project's daemon. */
function shell(project: keyof typeof projects, line: string) {
  return execa("sh", ["-c", line], { cwd: projects[project], env: sandboxes[project].env({ PATH }), extendEnv: false, reject: false, all: true });
}

function reprise(project: keyof typeof projects, args: string[], exe = bin(projects[project])) {
  return execa(exe, args, { cwd: projects[project], env: sandboxes[project].env({ PATH }), extendEnv: false, reject: false, encoding: "buffer" });
}

async function stats(project: keyof typeof projects): Promise<StatsJson> {
  const r = await reprise(project, ["--show-stats", "--json"]);
  expect(r.exitCode, text(r.stderr)).toBe(0);
  return (JSON.parse(text(r.stdout)) as { stats: StatsJson }).stats;
}

const hits = (s: StatsJson) => s.hitsDirect + s.hitsPreprocessor;

function nodeStarts(): string {
  return existsSync(marker) ? readFileSync(marker, "utf8") : "";
}

/** A miss then a hit of `gcc -O2 -c util.c` through `exe`, both byte-identical to a plain compile; the hit starts no node. */
async function expectCachedHit(project: keyof typeof projects, exe: string, out = "u.o") {
  const dir = projects[project];
  const ref = await plain("gcc", ["-O2", "-c", "util.c", "-o", "ref.o"], dir);
  expect(ref.exitCode).toBe(0);
  const first = await reprise(project, ["gcc", "-O2", "-c", "util.c", "-o", out], exe);
  expect(first.exitCode, text(first.stderr)).toBe(0);
  expect(readFileSync(join(dir, out)).equals(readFileSync(join(dir, "ref.o"))), "miss: byte-identical to a plain compile").toBe(true);
  rmSync(join(dir, out));
  const before = hits(await stats(project));
  writeFileSync(marker, "");
  const second = await reprise(project, ["gcc", "-O2", "-c", "util.c", "-o", out], exe);
  expect(second.exitCode, text(second.stderr)).toBe(0);
  expect(nodeStarts(), "a hit through the native client starts no node").toBe("");
  expect(readFileSync(join(dir, out)).equals(readFileSync(join(dir, "ref.o"))), "hit: byte-identical to a plain compile").toBe(true);
  expect(hits(await stats(project))).toBe(before + 1);
}

/** The fenced sh block of README's "Install from npm" holding the Make and CMake commands. */
function readmeCommands(): { make: string; cmake: string[]; cargo: string } {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Install from npm"));
  const lines = section.slice(0, section.indexOf("\n## ")).split("\n");
  const make = lines.find((l) => l.startsWith("make CC="));
  const cmake = lines.filter((l) => l.startsWith("cmake "));
  const cargo = lines.find((l) => l.startsWith("RUSTC_WRAPPER="));
  if (!make || cmake.length < 2 || !cargo) throw new Error("README's Install from npm section lost its make/cmake/cargo commands");
  return { make, cmake, cargo };
}

beforeAll(async () => {
  tarballs = await packRelease(join(root, "tarballs"), ["core", "plugin-gcc", "plugin-rustc"]);
  const core = tarballs["@reprise/core"]!;
  const gcc = tarballs["@reprise/plugin-gcc"]!;
  const rustc = tarballs["@reprise/plugin-rustc"]!;
  const x64 = tarballs["@reprise/client-linux-x64"]!;
  // npm resolves core's optional dependency on the x64 package to the tarball given
  // here; those of the other CPUs are looked up in the registry and skipped.
  const [, , log] = await Promise.all([
    npmInstallProject(projects.scripts, [core, gcc, rustc, x64]),
    npmInstallProject(projects.ignored, [core, gcc, x64], { flags: ["--ignore-scripts"] }),
    // Neither a prebuilt nor a C compiler: the Node client is what is left.
    npmInstallProject(projects.noPrebuilt, [core, gcc], { env: { CC: "no-such-cc" } }),
    npmInstallProject(join(root, "unused"), [core, gcc, x64], { flags: ["--global", "--prefix", globalPrefix] }),
    pnpmInstallProject(projects.pnpm, [core, gcc, x64]),
  ]);
  noPrebuiltInstallLog = log;
  mkdirSync(projects.global, { recursive: true });
  for (const dir of Object.values(projects)) writeSources(dir);
}, 600_000);

afterAll(async () => {
  for (const [name, sb] of Object.entries(sandboxes)) {
    const exe = bin(projects[name as keyof typeof projects]);
    if (existsSync(exe)) await execa(exe, ["--stop-server"], { env: sb.env({ PATH }), extendEnv: false, reject: false });
    await sb.dispose();
  }
  rmSync(root, { recursive: true, force: true });
});

describe("npm install (install scripts run)", () => {
  it("makes node_modules/.bin/reprise the prebuilt native executable itself", () => {
    const exe = realpathSync(bin(projects.scripts));
    expect(exe).toBe(join(realpathSync(projects.scripts), "node_modules/@reprise/core/bin/reprise"));
    expect(isElf(exe)).toBe(true);
    expect(elfMachine(exe)).toBe(62);
    const prebuilt = join(projects.scripts, "node_modules/@reprise/client-linux-x64/bin/reprise");
    expect(readFileSync(exe).equals(readFileSync(prebuilt)), "bin/reprise is the platform package's binary").toBe(true);
  });

  it("serves byte-identical hits without starting node", async () => {
    await expectCachedHit("scripts", bin(projects.scripts));
  });

  it("runs the README's Make command as written (reprise not on PATH)", async () => {
    const { make } = readmeCommands();
    const dir = projects.scripts;
    expect((await shell("scripts", "make CC=gcc CXX=g++ && mkdir -p ref && cp main.o util.o k.o ref/ && make clean")).exitCode).toBe(0);
    for (const round of ["cold", "warm"]) {
      const before = hits(await stats("scripts"));
      const r = await shell("scripts", make);
      expect(r.exitCode, `${round}: ${r.all}`).toBe(0);
      for (const o of ["main.o", "util.o", "k.o"]) expect(readFileSync(join(dir, o)).equals(readFileSync(join(dir, "ref", o))), `${round} ${o}`).toBe(true);
      if (round === "warm") expect(hits(await stats("scripts"))).toBe(before + 3);
      expect((await shell("scripts", "make clean")).exitCode).toBe(0);
    }
  });

  it("runs the README's CMake commands as written", async () => {
    const { cmake } = readmeCommands();
    const dir = projects.scripts;
    const plainBuild = await shell("scripts", "cmake -S . -B build-plain >/dev/null && cmake --build build-plain");
    expect(plainBuild.exitCode, plainBuild.all).toBe(0);
    for (const line of cmake) {
      const r = await shell("scripts", line);
      expect(r.exitCode, `${line}: ${r.all}`).toBe(0);
    }
    const objects = (build: string) => readdirSync(join(dir, build, "CMakeFiles/p.dir")).filter((f) => f.endsWith(".o"));
    expect(objects("build").sort()).toEqual(["k.cpp.o", "main.c.o", "util.c.o"]);
    const before = hits(await stats("scripts"));
    const rebuilt = await shell("scripts", "cmake --build build --clean-first");
    expect(rebuilt.exitCode, rebuilt.all).toBe(0);
    expect(hits(await stats("scripts"))).toBe(before + 3);
    for (const o of objects("build")) {
      expect(readFileSync(join(dir, "build/CMakeFiles/p.dir", o)).equals(readFileSync(join(dir, "build-plain/CMakeFiles/p.dir", o))), o).toBe(true);
    }
  });
});

describe("compiler links after npm install", () => {
  it("`reprise link-compilers` links gcc to the installed native executable, and `gcc` on PATH then hits", async () => {
    const links = join(root, "links");
    const made = await reprise("scripts", ["link-compilers", links, "gcc"]);
    expect(made.exitCode, text(made.stderr)).toBe(0);
    expect(text(made.stdout)).toContain("the native client");
    expect(realpathSync(join(links, "gcc"))).toBe(realpathSync(join(projects.scripts, "node_modules/@reprise/core/bin/reprise")));
    const dir = projects.scripts;
    const env = sandboxes.scripts.env({ PATH: `${links}:${PATH}` });
    const ref = await plain("gcc", ["-O2", "-c", "main.c", "-o", "ref-main.o"], dir);
    expect(ref.exitCode).toBe(0);
    const before = hits(await stats("scripts"));
    for (let i = 0; i < 2; i++) {
      const r = await execa("gcc", ["-O2", "-c", "main.c", "-o", "l.o"], { cwd: dir, env, extendEnv: false, reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(readFileSync(join(dir, "l.o")).equals(readFileSync(join(dir, "ref-main.o")))).toBe(true);
    }
    expect(hits(await stats("scripts"))).toBeGreaterThan(before);
  });
});

describe("cargo after npm install", () => {
  it("runs the README's RUSTC_WRAPPER command as written: artifacts as a plain build's, hits when rebuilt", async () => {
    const { cargo: line } = readmeCommands();
    const cargo = findCargo();
    expect(cargo, "no cargo: install rustup's stable toolchain (README, Set up and test)").toBeDefined();
    const dir = projects.scripts;
    writeFileSync(join(dir, "Cargo.toml"), '[package]\nname = "npmdemo"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\npath = "lib.rs"\n\n# As docs/rust.md says: incremental compiles are not cached.\n[profile.dev]\nincremental = false\n');
    writeFileSync(join(dir, "lib.rs"), "pub fn scale(x: u64) -> u64 { x * 7 + 1 }\n");
    const env = cargoEnv(cargo!, join(root, "cargo-home"), sandboxes.scripts.env({ PATH: `${dirname(cargo!)}:${PATH}` }));
    const sh = (cmd: string) => execa("sh", ["-c", cmd], { cwd: dir, env, extendEnv: false, reject: false, all: true });
    const rlib = () => readFileSync(join(dir, "target/debug/libnpmdemo.rlib"));
    const plainBuild = await sh("cargo build --offline");
    expect(plainBuild.exitCode, plainBuild.all).toBe(0);
    const ref = rlib();
    for (const round of ["cold", "warm"]) {
      expect((await sh("cargo clean")).exitCode).toBe(0);
      const before = hits(await stats("scripts"));
      const r = await sh(line.replace(/cargo build$/, "cargo build --offline"));
      expect(r.exitCode, `${round}: ${r.all}`).toBe(0);
      expect(rlib().equals(ref), `${round}: the rlib is a plain build's`).toBe(true);
      if (round === "warm") expect(hits(await stats("scripts"))).toBeGreaterThan(before);
    }
  });
});

describe("npm install --global", () => {
  it("puts the native executable on PATH as `reprise`: a bare `reprise gcc` hits byte-identically", async () => {
    const exe = realpathSync(join(globalPrefix, "bin/reprise"));
    expect(exe).toBe(join(realpathSync(globalPrefix), "lib/node_modules/@reprise/core/bin/reprise"));
    expect(isElf(exe)).toBe(true);
    const onPath = `${join(globalPrefix, "bin")}:${PATH}`;
    const dir = projects.global;
    const ref = await plain("gcc", ["-O2", "-c", "util.c", "-o", "ref.o"], dir);
    expect(ref.exitCode).toBe(0);
    for (let i = 0; i < 2; i++) {
      const r = await execa("reprise", ["gcc", "-O2", "-c", "util.c", "-o", "g.o"], { cwd: dir, env: sandboxes.global.env({ PATH: onPath }), extendEnv: false, reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(readFileSync(join(dir, "g.o")).equals(readFileSync(join(dir, "ref.o")))).toBe(true);
    }
    const st = await execa("reprise", ["--show-stats", "--json"], { cwd: dir, env: sandboxes.global.env({ PATH: onPath }), extendEnv: false });
    expect(hits((JSON.parse(st.stdout) as { stats: StatsJson }).stats)).toBe(1);
    await execa("reprise", ["--stop-server"], { cwd: dir, env: sandboxes.global.env({ PATH: onPath }), extendEnv: false, reject: false });
  });
});

describe("pnpm (its links and virtual store)", () => {
  it("runs the install script: @reprise/core/bin/reprise is the native executable, and hits through it and pnpm's .bin shim work", async () => {
    const exe = join(projects.pnpm, "node_modules/@reprise/core/bin/reprise");
    expect(realpathSync(exe)).toContain("/node_modules/.pnpm/");
    expect(isElf(exe)).toBe(true);
    await expectCachedHit("pnpm", exe);
    // pnpm's .bin/reprise is a shell shim of its own, which runs the executable above.
    const viaShim = await reprise("pnpm", ["gcc", "-O2", "-c", "util.c", "-o", "p.o"]);
    expect(viaShim.exitCode, text(viaShim.stderr)).toBe(0);
    expect(readFileSync(join(projects.pnpm, "p.o")).equals(readFileSync(join(projects.pnpm, "ref.o")))).toBe(true);
  });
});

describe("npm install --ignore-scripts", () => {
  it("leaves the sh launcher, which runs the platform package's prebuilt: hits still skip node", async () => {
    const exe = realpathSync(bin(projects.ignored));
    expect(readFileSync(exe, "utf8").startsWith("#!/bin/sh")).toBe(true);
    await expectCachedHit("ignored", bin(projects.ignored));
  });

  it("`reprise install-native` then makes .bin/reprise the prebuilt itself", async () => {
    const r = await reprise("ignored", ["install-native"]);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    expect(text(r.stderr)).toContain("@reprise/client-linux-x64");
    expect(isElf(bin(projects.ignored))).toBe(true);
    await expectCachedHit("ignored", bin(projects.ignored), "v.o");
  });
});

describe("no prebuilt for the platform", () => {
  it("without a C compiler: the install says so, and reprise is the Node client, still caching", async () => {
    expect(noPrebuiltInstallLog).toMatch(/no prebuilt client for linux-x64.*no native client could be built.*Node client/s);
    expect(readFileSync(realpathSync(bin(projects.noPrebuilt)), "utf8").startsWith("#!/bin/sh")).toBe(true);
    const dir = projects.noPrebuilt;
    const ref = await plain("gcc", ["-O2", "-c", "util.c", "-o", "ref.o"], dir);
    expect(ref.exitCode).toBe(0);
    for (let i = 0; i < 2; i++) {
      const r = await reprise("noPrebuilt", ["gcc", "-O2", "-c", "util.c", "-o", "n.o"]);
      expect(r.exitCode, text(r.stderr)).toBe(0);
      expect(readFileSync(join(dir, "n.o")).equals(readFileSync(join(dir, "ref.o")))).toBe(true);
    }
    expect(hits(await stats("noPrebuilt"))).toBe(1);
  });

  it("with a C compiler, `reprise install-native` builds the client from source and installs it as .bin/reprise", async () => {
    const r = await reprise("noPrebuilt", ["install-native"]);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    expect(text(r.stderr)).toMatch(/built the native client from source/);
    expect(isElf(bin(projects.noPrebuilt))).toBe(true);
    await expectCachedHit("noPrebuilt", bin(projects.noPrebuilt), "s.o");
  });
});

describe("the prebuilt clients of other CPUs, under qemu-user", () => {
  for (const [id, emulator, machine] of [
    ["linux-arm64", "qemu-aarch64-static", 183],
    ["linux-arm", "qemu-arm-static", 40],
  ] as const) {
    it(`${id}: serves a real hit and finds @reprise/core where npm put it`, async () => {
      // Where npm puts the package on such a machine: beside @reprise/core.
      const pkg = join(projects.scripts, "node_modules/@reprise", `client-${id}`);
      mkdirSync(pkg, { recursive: true });
      const tar = await execa("tar", ["-xzf", tarballs[`@reprise/client-${id}`]!, "--strip-components=1", "-C", pkg], { reject: false });
      expect(tar.exitCode, tar.stderr).toBe(0);
      const exe = join(pkg, "bin/reprise");
      expect(elfMachine(exe)).toBe(machine);
      const version = await execa(emulator, [exe, "--version"], { env: sandboxes.scripts.env({ PATH }), extendEnv: false, reject: false });
      expect(version.exitCode, version.stderr).toBe(0);
      expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(REPO_ROOT, "packages/core/package.json"), "utf8")).version);
      const dir = projects.scripts;
      cpSync(join(dir, "util.c"), join(dir, `q-${id}.c`));
      // A source changed within a clock tick of its compile's start is never recorded (it could change unseen): let it settle, as an edited file would have.
      await new Promise((r) => setTimeout(r, 100));
      const args = ["gcc", "-O2", "-c", `q-${id}.c`, "-o", `q-${id}.o`];
      expect((await reprise("scripts", args)).exitCode).toBe(0);
      const ref = readFileSync(join(dir, `q-${id}.o`));
      rmSync(join(dir, `q-${id}.o`));
      const before = hits(await stats("scripts"));
      writeFileSync(marker, "");
      const hit = await execa(emulator, [exe, ...args], { cwd: dir, env: sandboxes.scripts.env({ PATH }), extendEnv: false, reject: false });
      expect(hit.exitCode, hit.stderr).toBe(0);
      expect(nodeStarts()).toBe("");
      expect(readFileSync(join(dir, `q-${id}.o`)).equals(ref)).toBe(true);
      expect(hits(await stats("scripts"))).toBe(before + 1);
    });
  }

  it("linux-arm is ARMv7: an ARMv6 CPU (arm1176, Raspberry Pi 1 and Zero) cannot run it, which the install's --version check sees", async () => {
    const exe = join(projects.scripts, "node_modules/@reprise/client-linux-arm/bin/reprise");
    const v6 = await execa("qemu-arm-static", ["-cpu", "arm1176", exe, "--version"], { env: sandboxes.scripts.env({ PATH }), extendEnv: false, reject: false });
    expect(v6.exitCode).not.toBe(0);
    const v7 = await execa("qemu-arm-static", ["-cpu", "cortex-a7", exe, "--version"], { env: sandboxes.scripts.env({ PATH }), extendEnv: false, reject: false });
    expect(v7.exitCode, v7.stderr).toBe(0);
  });
});
