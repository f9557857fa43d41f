#!/usr/bin/env node
// Compiles the native client (native/reprise-native.c) into
// dist/native/reprise-native with the system C compiler ($CC, else cc, gcc or
// clang). Without a C compiler it says so and exits 0: Reprise then works
// through the Node client. `--required` (used by `reprise install-native`)
// makes that, and a failed compile, an error.
//
// `--target <id>` builds the prebuilt client of a platform package instead
// (native-targets.mjs: static, stripped, with that target's cross compiler,
// no node path baked in since it runs on other machines) into `--out <file>`.
//
//   node scripts/build-native.mjs [--required] [--quiet]
//   node scripts/build-native.mjs --target linux-arm64 --out <file>
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { NATIVE_TARGETS } from "./native-targets.mjs";

const core = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(core, "native", "reprise-native.c");
const argValue = (flag) => {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const targetId = argValue("--target");
const target = targetId === undefined ? undefined : NATIVE_TARGETS.find((t) => t.id === targetId);
if (targetId !== undefined && !target) {
  console.error(`reprise: unknown native target ${targetId} (known: ${NATIVE_TARGETS.map((t) => t.id).join(", ")})`);
  process.exit(2);
}
if (target && !argValue("--out")) {
  console.error("reprise: --target needs --out <file>");
  process.exit(2);
}
const output = target ? resolve(argValue("--out")) : join(core, "dist", "native", "reprise-native");
const outDir = dirname(output);
const required = process.argv.includes("--required") || target !== undefined;
const quiet = process.argv.includes("--quiet");

function readConstant(candidates, pattern, what) {
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const m = pattern.exec(readFileSync(file, "utf8"));
    if (m) return m[1];
  }
  throw new Error(`cannot find ${what} in ${candidates.map((f) => relative(core, f)).join(" or ")}`);
}

/** A C string literal for `s` (passed as -DNAME=<literal>, no shell involved). */
function cString(s) {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b < 0x20 || b > 0x7e) out += `\\${b.toString(8).padStart(3, "0")}`;
    else out += String.fromCharCode(b);
  }
  return `"${out}"`;
}

function done(code, message) {
  if (message && (!quiet || code !== 0)) (code === 0 ? console.log : console.error)(message);
  process.exit(code);
}

// A stale binary would speak another version than the Node client it sits beside.
function removeStale() {
  rmSync(output, { force: true });
}

let version, protocol;
try {
  // The sources win over dist: the build runs this right after tsc, and `install-native` from a published package has only dist.
  version = readConstant([join(core, "src/version.ts"), join(core, "dist/version.js")], /REPRISE_VERSION\s*=\s*"([^"\\]*)"/, "REPRISE_VERSION");
  protocol = readConstant([join(core, "src/protocol/frames.ts"), join(core, "dist/protocol/frames.js")], /PROTOCOL_VERSION\s*=\s*(\d+)/, "PROTOCOL_VERSION");
} catch (err) {
  removeStale();
  done(1, `reprise: cannot build the native client: ${err.message}`);
}

/**
 * musl first where it builds for this machine (`musl-gcc`, Debian's musl-tools): glibc's start-up reads the CPU's cache
 * layout with `cpuid`, which traps to the hypervisor on a VM, on every call; a static musl client costs about 0.8x the
 * CPU and wall time of a static glibc one per hit (bench/results/2026-12-06-hit-fast.md). Tried quietly: when it is
 * missing or fails, the next compiler builds the client as before.
 */
const MUSL = "musl-gcc";
const muslBuildsHere = process.platform === "linux" && process.arch === "x64";
const preferMusl = muslBuildsHere && !process.env.CC && (!target || target.id === "linux-x64");
const candidates = [...(preferMusl ? [MUSL] : []), ...(target ? [target.cc] : process.env.CC ? [process.env.CC] : ["cc", "gcc", "clang"])];
const flags = ["-std=c11", "-O2", "-Wall", "-Wextra", `-DREPRISE_VERSION=${cString(version)}`, `-DREPRISE_PROTOCOL=${protocol}`];
// A prebuilt finds node on PATH; one built here runs the node that built it first.
if (target) flags.push("-s");
else flags.push(`-DREPRISE_NODE=${cString(process.execPath)}`);

mkdirSync(outDir, { recursive: true });
// Written beside and renamed over: a running client is never overwritten in place.
const temp = `${output}.${process.pid}.tmp`;
const tried = [];
for (const cc of candidates) {
  const [cmd, ...ccArgs] = cc.trim().split(/\s+/);
  // Static where the C library allows it: no dynamic loader work on each call (about 1 ms of CPU here).
  // The client uses nothing from NSS or dlopen, so a static glibc binary behaves the same.
  let r = spawnSync(cmd, [...ccArgs, ...flags, "-static", source, "-o", temp], { encoding: "utf8" });
  if (!r.error && r.status !== 0 && !target) r = spawnSync(cmd, [...ccArgs, ...flags, source, "-o", temp], { encoding: "utf8" });
  if (r.error && r.error.code === "ENOENT") {
    tried.push(cmd);
    continue;
  }
  if ((r.status !== 0 || r.error) && cmd === MUSL && candidates.length > 1) {
    rmSync(temp, { force: true });
    continue;
  }
  if (r.status !== 0 || r.error) {
    rmSync(temp, { force: true });
    removeStale();
    process.stderr.write(r.stderr || "");
    done(required ? 1 : 0, `reprise: ${cc} could not compile the native client (${r.error?.message ?? `exit ${r.status}`}); Reprise will use the Node client`);
  }
  if (r.stderr) process.stderr.write(r.stderr);
  chmodSync(temp, 0o755);
  renameSync(temp, output);
  const shown = relative(process.cwd(), output);
  done(0, `reprise: built the native client ${shown.startsWith("..") ? output : shown} with ${cc}`);
}
removeStale();
if (target) done(1, `reprise: no ${target.cc} for the ${target.id} prebuilt client (npm run setup installs the cross compilers)`);
done(required ? 1 : 0, `reprise: no C compiler found (tried ${tried.join(", ")}; set CC); Reprise will use the Node client`);
