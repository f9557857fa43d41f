// How the native client finds the @reprise/core it hands administrative
// commands (and daemon start-up) to, from wherever npm put the binary: its
// own package (bin/ or dist/native/), or a platform package from which core is
// resolved as Node resolves packages, never through a directory every user
// can write (/tmp/node_modules).
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BUILT = resolve(import.meta.dirname, "../../dist/native/reprise-native");

let root: string;

/** A fake core whose Node client prints who it is. */
function fakeCore(dir: string, name: string) {
  mkdirSync(join(dir, "dist/bin"), { recursive: true });
  writeFileSync(join(dir, "dist/bin/reprise.js"), `process.stdout.write(${JSON.stringify(name)} + " " + process.argv.slice(2).join(" "));\n`);
}

function placeClient(path: string) {
  mkdirSync(dirname(path), { recursive: true });
  cpSync(BUILT, path);
  chmodSync(path, 0o755);
}

function run(exe: string) {
  return execa(exe, ["--version"], { reject: false, env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: root }, extendEnv: false });
}

beforeAll(() => {
  expect(existsSync(BUILT), `${BUILT} is not built (npm run build)`).toBe(true);
  root = mkdtempSync(join(tmpdir(), "reprise-core-discovery-"));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("native client: finding @reprise/core", () => {
  it("is the package holding it as bin/reprise (npm's install script) or dist/native/reprise-native (built)", async () => {
    const core = join(root, "own/node_modules/@reprise/core");
    fakeCore(core, "own-core");
    placeClient(join(core, "bin/reprise"));
    placeClient(join(core, "dist/native/reprise-native"));
    expect((await run(join(core, "bin/reprise"))).stdout).toBe("own-core --version");
    expect((await run(join(core, "dist/native/reprise-native"))).stdout).toBe("own-core --version");
  });

  it("from a platform package: core beside it (hoisted), or up the tree as Node resolves it", async () => {
    const project = join(root, "hoisted");
    fakeCore(join(project, "node_modules/@reprise/core"), "hoisted-core");
    placeClient(join(project, "node_modules/@reprise/client-linux-x64/bin/reprise"));
    expect((await run(join(project, "node_modules/@reprise/client-linux-x64/bin/reprise"))).stdout).toBe("hoisted-core --version");
    // Nested: a dependency's own copy of core and of its platform package.
    const nested = join(project, "node_modules/some-tool");
    fakeCore(join(nested, "node_modules/@reprise/core"), "nested-core");
    placeClient(join(nested, "node_modules/@reprise/client-linux-x64/bin/reprise"));
    expect((await run(join(nested, "node_modules/@reprise/client-linux-x64/bin/reprise"))).stdout).toBe("nested-core --version");
  });

  it("never through a directory every user can write, nor one another user owns", async () => {
    const shared = join(root, "shared");
    mkdirSync(shared);
    fakeCore(join(shared, "node_modules/@reprise/core"), "planted-core");
    const exe = join(shared, "project/node_modules/@reprise/client-linux-x64/bin/reprise");
    placeClient(exe);
    chmodSync(shared, 0o755);
    expect((await run(exe)).stdout, "control: a private ancestor is searched").toBe("planted-core --version");
    chmodSync(shared, 0o1777);
    const r = await run(exe);
    expect(r.stdout).not.toContain("planted-core");
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain("cannot run the Node client");
    chmodSync(shared, 0o755);
    // Owned by another user (the suite runs as root, as its security tests do): not searched either.
    chownSync(shared, 65534, 65534);
    expect((await run(exe)).stdout).not.toContain("planted-core");
    chownSync(shared, process.getuid!(), process.getgid!());
    expect((await run(exe)).stdout).toBe("planted-core --version");
  });
});
