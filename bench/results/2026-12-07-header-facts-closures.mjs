// yaml-cpp's real closures for the header-facts benches: every src/*.cpp of a copy of the tree scanned with
// g++ -M, its include search, each file's content hash, and the checkout W's modules that plan absent paths.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, mkdtempSync, cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

export async function yamlCppClosures(W, yamlTree) {
  const core = `${W}/packages/core/dist`;
  const mods = {
    ...(await import(`${core}/engine/absent-paths.js`)),
    ...(await import(`${core}/engine/dir-listings.js`)),
    ...(await import(`${core}/engine/quoted-includes.js`)),
  };
  const { hashBytes } = await import(`${core}/hashing/key-hasher.js`);
  const { parseIncludeSearch } = await import(`${W}/packages/plugin-gcc/dist/index.js`);
  const T = mkdtempSync(join(tmpdir(), "hf-closures-"));
  cpSync(yamlTree, T, { recursive: true });
  const F = ["-std=c++11", "-Iinclude", "-Isrc", "-O2"];
  const srcs = readdirSync(join(T, "src")).filter((f) => f.endsWith(".cpp")).map((f) => join(T, "src", f));
  const closures = srcs.map((src) => {
    const dep = execFileSync("g++", [...F, "-M", src], { cwd: T, encoding: "utf8" });
    return dep.replace(/\\\n/g, " ").split(":").slice(1).join(":").trim().split(/\s+/).map((p) => (p.startsWith("/") ? p : join(T, p)));
  });
  const v = execFileSync("sh", ["-c", `g++ ${F.join(" ")} -E -v -x c++ /dev/null -o /dev/null 2>&1`], { cwd: T, encoding: "utf8" });
  const search = parseIncludeSearch({ stdout: "", stderr: v, exitCode: 0, cwd: T });
  const hashes = new Map();
  for (const c of closures) for (const h of c) if (!hashes.has(h)) hashes.set(h, hashBytes(readFileSync(h)));
  // Past the racy window: the directories' identities vouch for their listings.
  await new Promise((r) => setTimeout(r, 3000));
  const listings = new mods.DirListings();
  /** absentPaths of `closure` (its source first) with the one daemon's memo; `seen` as a speculation check's. */
  const plan = (closure, since, seen) => {
    const src = closure[0];
    const input = { closure, source: src, cwd: T, search, probed: [], probedQuoted: [], quoted: (f) => mods.quotedIncludes(f, hashes.get(f), f !== src), args: [...F, "-c", src], since, hashOf: (f) => hashes.get(f), ...(seen ? { seen } : {}) };
    return mods.absentPaths(input, listings.session(), listings.absent);
  };
  return { T, closures, listings, plan, cleanup: () => rmSync(T, { recursive: true, force: true }) };
}
