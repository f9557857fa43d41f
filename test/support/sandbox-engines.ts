import { execFileSync, spawnSync } from "node:child_process";

/**
 * Installs Debian packages the sandbox tests need when they are missing
 * (`podman`, `runc`, `busybox-static`), as containers-here.md describes;
 * the tests then run rather than skip.
 */
export function ensureDebianPackages(packages: string[]): void {
  const missing = packages.filter((p) => spawnSync("dpkg-query", ["-W", "-f=${Status}", p], { encoding: "utf8" }).stdout.trim() !== "install ok installed");
  if (!missing.length) return;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", ["-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", ...missing], { env, encoding: "utf8" });
  let r = install();
  if (r.status !== 0) {
    execFileSync("apt-get", ["update", "-q"], { env, stdio: "ignore" });
    r = install();
  }
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(" ")} failed:\n${r.stderr}`);
}

/** Process ids whose command line contains `pattern`. */
export function pgrep(pattern: string): string[] {
  const r = spawnSync("pgrep", ["-f", pattern], { encoding: "utf8" });
  return r.stdout.trim().split("\n").filter(Boolean);
}
