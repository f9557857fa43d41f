#!/usr/bin/env node
// The npm tarballs of a release, as they are published:
//   - one platform package per prebuilt native client (@reprise/client-<id>,
//     packages/core/scripts/native-targets.mjs), cross-compiled here, checked
//     to run (under qemu-user for foreign CPUs), with `os` and `cpu` so npm
//     installs only the one that matches;
//   - @reprise/core with those packages as optionalDependencies (pinned to its
//     own version; its install script puts the matching one at bin/reprise);
//   - every other workspace package as `npm pack` makes it.
// The platform packages are made here rather than kept as workspaces because
// npm refuses to install a workspace whose `cpu` does not match the machine,
// and `npm ci` refuses an optional dependency missing from the lock file.
//
//   npm run build && node scripts/pack-release.mjs --out <dir> [--targets linux-x64,linux-arm64] [--packages core,plugin-gcc]
//
// Prints the tarballs' paths as JSON ({ "<package name>": "<path>" }) on stdout.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { NATIVE_TARGETS, PLATFORM_BINARY, currentTargetId, platformPackageName } from "../packages/core/scripts/native-targets.mjs";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const coreDir = join(repo, "packages", "core");

function option(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function fail(message) {
  console.error(`pack-release: ${message}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.error || r.status !== 0) fail(`${cmd} ${args.join(" ")}: ${r.error?.message ?? `exit ${r.status}`}\n${r.stderr ?? ""}`);
  return r.stdout;
}

/** `npm pack` of a folder into `out`; returns the tarball's path. */
function npmPack(folder, out) {
  const [info] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", out], { cwd: folder }));
  return join(out, info.filename);
}

const outArg = option("--out");
if (!outArg) fail("usage: node scripts/pack-release.mjs --out <dir> [--targets id,...] [--packages name,...]");
const out = resolve(outArg);
mkdirSync(out, { recursive: true });
const targetIds = (option("--targets") ?? NATIVE_TARGETS.map((t) => t.id).join(",")).split(",").filter(Boolean);
const targets = targetIds.map((id) => NATIVE_TARGETS.find((t) => t.id === id) ?? fail(`unknown target ${id}`));
const allPackages = readdirSync(join(repo, "packages")).filter((d) => existsSync(join(repo, "packages", d, "package.json")));
const packages = (option("--packages") ?? allPackages.join(",")).split(",").filter(Boolean);
if (!existsSync(join(coreDir, "dist", "bin", "reprise.js"))) fail("packages/core is not built: run `npm run build` first");

const core = JSON.parse(readFileSync(join(coreDir, "package.json"), "utf8"));
const staging = mkdtempSync(join(tmpdir(), "reprise-pack-"));
const tarballs = {};
try {
  for (const target of targets) {
    const name = platformPackageName(target.id);
    const dir = join(staging, `client-${target.id}`);
    const binary = join(dir, PLATFORM_BINARY);
    mkdirSync(dirname(binary), { recursive: true });
    run(process.execPath, [join(coreDir, "scripts", "build-native.mjs"), "--target", target.id, "--out", binary, "--quiet"]);
    checkRuns(target, binary);
    writeFileSync(
      join(dir, "package.json"),
      `${JSON.stringify(
        {
          name,
          version: core.version,
          description: `The prebuilt native client of Reprise for ${target.os} ${target.describe} (static). Installed by @reprise/core; not used alone.`,
          license: core.license,
          repository: { ...core.repository, directory: "packages/core/native" },
          homepage: core.homepage,
          bugs: core.bugs,
          os: [target.os],
          cpu: [target.cpu],
          files: [PLATFORM_BINARY],
        },
        null,
        2,
      )}\n`,
    );
    writeFileSync(
      join(dir, "README.md"),
      `# ${name}\n\nThe native \`reprise\` client (C, statically linked) for ${target.os} ${target.describe}, built from \`packages/core/native/reprise-native.c\` of @reprise/core ${core.version}.\nnpm installs it as an optional dependency of \`@reprise/core\` on matching machines only; \`@reprise/core\`'s install script makes it the \`reprise\` command. Install \`@reprise/core\`, not this package.\n`,
    );
    copyFileSync(join(coreDir, "LICENSE"), join(dir, "LICENSE"));
    tarballs[name] = npmPack(dir, out);
  }

  for (const pkg of packages) {
    const dir = join(repo, "packages", pkg);
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    if (manifest.name !== core.name) {
      tarballs[manifest.name] = npmPack(dir, out);
      continue;
    }
    // core: its own tarball's contents, with the platform packages as optional dependencies.
    const unpacked = join(staging, "core");
    mkdirSync(unpacked);
    run("tar", ["-xzf", npmPack(dir, staging), "-C", unpacked]);
    const staged = join(unpacked, "package");
    const stagedManifest = JSON.parse(readFileSync(join(staged, "package.json"), "utf8"));
    stagedManifest.optionalDependencies = Object.fromEntries(NATIVE_TARGETS.map((t) => [platformPackageName(t.id), core.version]));
    writeFileSync(join(staged, "package.json"), `${JSON.stringify(stagedManifest, null, 2)}\n`);
    tarballs[core.name] = npmPack(staged, out);
  }
} finally {
  rmSync(staging, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(tarballs, null, 2)}\n`);

/**
 * Runs the binary as a compiler call that needs neither a daemon nor Node (an
 * unusable runtime directory makes it run the command itself), natively or
 * under the target's qemu-user emulator.
 */
function checkRuns(target, binary) {
  const native = target.id === currentTargetId();
  const cmd = native ? binary : target.emulator;
  const args = native ? [] : [binary];
  const r = spawnSync(cmd, [...args, "/bin/echo", "reprise-prebuilt-runs"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, REPRISE_RUNTIME_DIR: "/dev/null/reprise" },
  });
  if (r.error?.code === "ENOENT") fail(`cannot check the ${target.id} client: ${cmd} is not installed (npm run setup installs qemu-user-static)`);
  if (r.status !== 0 || r.stdout.trim() !== "reprise-prebuilt-runs")
    fail(`the ${target.id} client does not run${native ? "" : ` under ${cmd}`}: exit ${r.status}, ${r.error?.message ?? r.stderr}`);
}
