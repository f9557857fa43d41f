import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDebianPackages } from "./sandbox-engines.js";

/**
 * An aarch64-hosted gcc on this x86_64 machine (aarch64-builder-on-x86.md):
 * Debian's arm64 gcc-12 and the libraries it loads, fetched with `apt-get
 * download` (about 32 MB) and unpacked with `dpkg-deb -x` into a root
 * directory — never installed. Cached between runs under
 * `$REPRISE_TEST_CACHE` (the same directory the gcc plugin's tests use).
 */
const ARM64_PACKAGES = ["gcc-12", "cpp-12", "binutils", "binutils-aarch64-linux-gnu", "libbinutils", "libctf-nobfd0", "libctf0", "libjansson4", "libc6", "libgcc-s1", "libstdc++6", "libzstd1", "zlib1g", "libgmp10", "libisl23", "libmpfr6", "libmpc3"];

export function arm64GccRoot(): string {
  const base = join(process.env.REPRISE_TEST_CACHE ?? join(tmpdir(), "reprise-test-cache"), "arm64-gcc-12");
  const root = join(base, "root");
  if (!existsSync(join(base, "complete"))) {
    const debs = join(base, "debs");
    mkdirSync(debs, { recursive: true });
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const sh = (cmd: string, args: string[], cwd?: string) => spawnSync(cmd, args, { cwd, encoding: "utf8", env });
    if (!sh("dpkg", ["--print-foreign-architectures"]).stdout.split("\n").includes("arm64")) {
      sh("dpkg", ["--add-architecture", "arm64"]);
      sh("apt-get", ["update", "-q"]);
    }
    const download = () => sh("apt-get", ["download", ...ARM64_PACKAGES.map((p) => `${p}:arm64`)], debs);
    if (download().status !== 0) {
      sh("apt-get", ["update", "-q"]);
      const r = download();
      if (r.status !== 0) throw new Error(`apt-get download of the arm64 gcc failed: ${r.stderr}`);
    }
    for (const deb of readdirSync(debs).filter((f) => f.endsWith(".deb"))) {
      const r = sh("dpkg-deb", ["-x", join(debs, deb), root]);
      if (r.status !== 0) throw new Error(`dpkg-deb -x ${deb}: ${r.stderr}`);
    }
    for (const d of ["proc", "dev"]) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, ".qemu"), "");
    writeFileSync(join(base, "complete"), "");
  }
  // Mount point for running it in bwrap with the root read-only and a job directory under /tmp.
  mkdirSync(join(root, "tmp"), { recursive: true });
  return root;
}

const BINFMT = "/proc/sys/fs/binfmt_misc";

/**
 * Makes aarch64 programs run here through qemu-user (step 1 of the note):
 * installs qemu-user-static, mounts binfmt_misc and registers Debian's
 * qemu-aarch64 entry (flag F: the emulator is opened now, so it also runs
 * inside sandboxes that do not have it). Throws, saying why, when it cannot.
 */
export function ensureAarch64Emulation(): void {
  ensureDebianPackages(["qemu-user-static"]);
  if (existsSync(join(BINFMT, "qemu-aarch64")) && readFileSync(join(BINFMT, "qemu-aarch64"), "utf8").startsWith("enabled")) return;
  if (!existsSync(join(BINFMT, "register"))) {
    const m = spawnSync("mount", ["-t", "binfmt_misc", "binfmt_misc", BINFMT], { encoding: "utf8" });
    if (m.status !== 0) throw new Error(`cannot mount binfmt_misc (needed to run aarch64 programs): ${m.stderr.trim()}`);
  }
  const conf = "/usr/lib/binfmt.d/qemu-aarch64.conf";
  if (!existsSync(join(BINFMT, "qemu-aarch64"))) writeFileSync(join(BINFMT, "register"), readFileSync(conf, "utf8").trim());
  else writeFileSync(join(BINFMT, "qemu-aarch64"), "1");
}
