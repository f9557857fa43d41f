#!/usr/bin/env node
// Builds native/read-trace.c into dist/native/read-trace.so with the system C
// compiler ($CC, else cc, gcc or clang). The plugin preloads it into a GCC
// compile that writes the user's -MMD file, so direct mode learns every file
// the compile read without a second scan (src/compile-listing.ts). Without a
// C compiler, or when the library cannot be preloaded here, it says so and
// exits 0: such compiles then scan as before.
//
//   node scripts/build-read-trace.mjs [--quiet]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(pkg, "native", "read-trace.c");
const output = join(pkg, "dist", "native", "read-trace.so");
const quiet = process.argv.includes("--quiet");
const say = (text) => {
  if (!quiet) console.error(`@reprise/plugin-gcc: ${text}`);
};

function findCompiler() {
  for (const cc of [process.env.CC, "cc", "gcc", "clang"].filter(Boolean)) {
    if (spawnSync(cc, ["--version"], { stdio: "ignore" }).status === 0) return cc;
  }
  return undefined;
}

const cc = findCompiler();
if (!existsSync(source)) {
  say(`${source} is missing; -MMD misses will scan`);
  process.exit(0);
}
if (!cc) {
  say("no C compiler found ($CC, cc, gcc, clang): the read tracer is not built; -MMD misses will scan");
  process.exit(0);
}
mkdirSync(dirname(output), { recursive: true });
const tmp = `${output}.${process.pid}.tmp`;
const built = spawnSync(cc, ["-shared", "-fPIC", "-O2", "-Wall", "-o", tmp, source, "-ldl"], { encoding: "utf8" });
if (built.status !== 0) {
  rmSync(tmp, { force: true });
  say(`could not build the read tracer (${built.stderr.trim().split("\n").at(-1) ?? "failed"}); -MMD misses will scan`);
  process.exit(0);
}
// ld.so prints to stderr when it cannot preload a library: such a library must never reach a compile.
const probe = spawnSync(process.execPath, ["-e", ""], { env: { ...process.env, LD_PRELOAD: tmp }, encoding: "utf8" });
if (probe.status !== 0 || probe.stderr !== "") {
  rmSync(tmp, { force: true });
  say(`the read tracer cannot be preloaded here (${probe.stderr.trim()}); -MMD misses will scan`);
  process.exit(0);
}
renameSync(tmp, output);
