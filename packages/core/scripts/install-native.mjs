#!/usr/bin/env node
// Gives `reprise` the fastest client this machine can run, in this order:
//   1. the prebuilt of the platform package npm installed for this machine
//      (@reprise/client-<os>-<cpu>, an optional dependency), if it runs here;
//   2. one built from source with the system C compiler (build-native.mjs);
//   3. neither: bin/reprise stays the sh launcher, which runs the Node client.
// Installed by npm (the package sits in a node_modules folder), the native
// client is copied over bin/reprise, so npm's `.bin/reprise` link and global
// `reprise` are the executable itself: no shell, no Node on a hit. In a
// checkout it goes to dist/native/reprise-native, where bin/reprise finds it.
//
// npm runs it as the postinstall script (`--postinstall`: never fails the
// install); `reprise install-native` runs it with `--required` (exit 1 when
// no native client could be had) and optionally `--from-source`.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, readFileSync, realpathSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { PLATFORM_BINARY, currentTargetId, platformPackageName } from "./native-targets.mjs";

const core = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const postinstall = process.argv.includes("--postinstall");
const required = process.argv.includes("--required");
const fromSource = process.argv.includes("--from-source");
const quiet = process.argv.includes("--quiet");

const installedByNpm = realpathSync(core).split(sep).includes("node_modules");
const launcher = join(core, "bin", "reprise");
const builtHere = join(core, "dist", "native", "reprise-native");
const version = JSON.parse(readFileSync(join(core, "package.json"), "utf8")).version;

function say(line) {
  if (!quiet) console.error(`reprise: ${line}`);
}

/** The platform package's executable, or why there is none. */
function findPrebuilt() {
  const name = platformPackageName(currentTargetId());
  try {
    const pkg = createRequire(join(core, "package.json")).resolve(`${name}/package.json`);
    // Built from this release's sources only when released with it (pack-release pins the version).
    const its = JSON.parse(readFileSync(pkg, "utf8")).version;
    if (its !== version) return { why: `${name} is version ${its}, not ${version}` };
    return { path: join(dirname(pkg), PLATFORM_BINARY) };
  } catch {
    return { why: `no prebuilt client for ${currentTargetId()} (${name} is not installed)` };
  }
}

/**
 * Runs a native client as `reprise --version`: it must start on this CPU and
 * kernel and find this package's Node client (which answers).
 */
function selfTest(path) {
  const r = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 60_000 });
  if (r.error) return `cannot run ${path}: ${r.error.message}`;
  const out = (r.stdout ?? "").trim();
  if (r.status !== 0 || !out.includes(version)) return `${path} --version gave ${JSON.stringify(out || (r.stderr ?? "").trim())} (exit ${r.status}), expected ${version}`;
  return undefined;
}

/** Copies beside and renames over: a running client is never written in place, and a package store's hard link never written through. */
function place(from, to) {
  if (from === to) return;
  const temp = `${to}.${process.pid}.tmp`;
  try {
    copyFileSync(from, temp);
    chmodSync(temp, 0o755);
    renameSync(temp, to);
  } finally {
    rmSync(temp, { force: true });
  }
}

function buildFromSource() {
  const r = spawnSync(process.execPath, [join(core, "scripts", "build-native.mjs"), "--required", "--quiet"], { encoding: "utf8" });
  if (r.status === 0 && existsSync(builtHere)) return { path: builtHere };
  const last = `${r.stderr ?? ""}${r.error?.message ?? ""}`.trim().split("\n").pop();
  return { why: last || `build-native.mjs exited ${r.status}` };
}

function main() {
  // In a checkout (npm ci runs this for the workspace) `npm run build` makes the native client.
  if (postinstall && !installedByNpm) return 0;
  if (!existsSync(join(core, "dist", "bin", "reprise.js"))) {
    say("the package is not built (no dist/bin/reprise.js); run the build first");
    return 1;
  }
  const dest = installedByNpm ? launcher : builtHere;
  const reasons = [];
  if (!fromSource) {
    const prebuilt = findPrebuilt();
    const problem = prebuilt.why ?? selfTest(prebuilt.path);
    if (!problem) {
      place(prebuilt.path, dest);
      if (!postinstall) say(`installed the prebuilt native client of ${platformPackageName(currentTargetId())} as ${dest}`);
      return 0;
    }
    reasons.push(problem);
  }
  const built = buildFromSource();
  if (built.path) {
    if (installedByNpm) place(built.path, dest);
    say(`${reasons.length ? `${reasons.join("; ")}; ` : ""}built the native client from source as ${dest}`);
    return 0;
  }
  reasons.push(`no native client could be built: ${built.why}`);
  say(`${reasons.join("; ")}. Cache hits go through the Node client (slower); install a C compiler and run \`reprise install-native\``);
  return required ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (err) {
  // e.g. a global install this user may not write to: say so; an install never fails because of it.
  say(`cannot install the native client: ${err.message}`);
  process.exitCode = postinstall ? 0 : 1;
}
