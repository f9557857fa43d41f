import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureDebianPackages } from "../../../test/support/sandbox-engines.js";
import { grantReach } from "../../../test/support/local-users.js";

/**
 * A user who may not make cgroups (not root, no cgroup delegated): the bwrap
 * sandbox cannot hold a job to its process and memory limits, so it says so
 * and is not used (hermetic mode then compiles locally), unless
 * `enforceLimits: false` accepts jobs without that ceiling. Run as a real
 * local user made for the test.
 */

const USER = "reprise-sbx-nocg";
const DIST = join(import.meta.dirname, "../dist/index.js");

beforeAll(() => {
  ensureDebianPackages(["bubblewrap"]);
  if (spawnSync("id", [USER]).status !== 0) {
    const made = spawnSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], { encoding: "utf8" });
    if (made.status !== 0 && spawnSync("id", [USER]).status !== 0) throw new Error(`useradd ${USER} failed: ${made.stderr}`);
  }
  grantReach({ name: USER }, [DIST, process.execPath]);
}, 300_000);

function probeAs(options: Record<string, unknown>): { usable: boolean; reason?: string } {
  const script = `import(${JSON.stringify(DIST)}).then(async (m) => { const r = await new m.BwrapSandbox(${JSON.stringify(options)}).probe(); process.stdout.write(JSON.stringify(r)); });`;
  const r = spawnSync("runuser", ["-u", USER, "--", process.execPath, "-e", script], { encoding: "utf8", cwd: "/", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  if (r.status !== 0) throw new Error(`probe as ${USER} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { usable: boolean; reason?: string };
}

describe("bwrap sandbox for a user who cannot make cgroups", () => {
  it("is unusable and says why, unless enforceLimits is false", () => {
    const strict = probeAs({});
    expect(strict.usable).toBe(false);
    expect(strict.reason).toMatch(/cannot limit a job's processes and memory/);
    expect(strict.reason).toMatch(/enforceLimits: false/);
    const loose = probeAs({ enforceLimits: false });
    expect(loose, loose.reason).toEqual({ usable: true });
  });
});
