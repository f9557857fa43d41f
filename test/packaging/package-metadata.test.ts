import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/reprise-env.js";

/**
 * What npm would publish for every package under packages/: the metadata a
 * registry page and `npm bugs` use, a LICENSE and a README in the tarball,
 * `os` for Linux-only packages, and no source map pointing at a file the
 * tarball does not hold. Checked on `npm pack --dry-run --json` (after the
 * build: the suite's `npm test` builds first).
 */

const PACKAGES = readdirSync(join(REPO_ROOT, "packages")).filter((d) => !d.startsWith("."));
const APACHE = readFileSync(join(REPO_ROOT, "LICENSE"), "utf8");

interface Packed {
  name: string;
  files: { path: string }[];
}

function pack(dir: string): Packed {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return (JSON.parse(out) as Packed[])[0]!;
}

describe.each(PACKAGES)("packages/%s", (name) => {
  const dir = join(REPO_ROOT, "packages", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));

  it("names its repository, homepage, bug tracker, license and the OS it runs on", () => {
    expect(pkg.repository).toMatchObject({ type: "git", url: expect.stringMatching(/^git\+https:\/\/.+\.git$/), directory: `packages/${name}` });
    expect(pkg.homepage).toMatch(/^https:\/\/.+/);
    expect(pkg.bugs?.url).toMatch(/^https:\/\/.+\/issues$/);
    expect(pkg.license).toBe("Apache-2.0");
    // The native client, the daemon's runtime directory, ELF toolchains and the sandboxes are Linux's.
    expect(pkg.os).toEqual(["linux"]);
  });

  it("publishes LICENSE (Apache-2.0), README.md and package.json, and source maps only to files it publishes", () => {
    const packed = pack(dir);
    expect(packed.name).toBe(pkg.name);
    const files = new Set(packed.files.map((f) => f.path));
    for (const f of ["LICENSE", "README.md", "package.json"]) expect(files, `${pkg.name} tarball lacks ${f}`).toContain(f);
    expect(readFileSync(join(dir, "LICENSE"), "utf8")).toBe(APACHE);
    expect(APACHE).toContain("Apache License\n                           Version 2.0, January 2004");
    const maps = [...files].filter((f) => f.endsWith(".map"));
    expect(maps.length, "the build writes source maps").toBeGreaterThan(0);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(dir, map), "utf8")) as { sources: string[] };
      for (const src of sources) {
        const target = normalize(join(dirname(map), src));
        if (!files.has(target)) missing.push(`${map} -> ${target}`);
      }
    }
    expect(missing, "source maps point at files the tarball lacks").toEqual([]);
    expect([...files].some((f) => f.includes("/test/") || f.endsWith(".tsbuildinfo")), "tests or build info published").toBe(false);
  }, 60_000);
});
