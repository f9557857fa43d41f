// bin/reprise, the sh launcher: which client it starts and what it tells it,
// in a copy of the package layout where both clients are stand-in scripts that print
// how they were started.
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const LAUNCHER = resolve(import.meta.dirname, "../../bin/reprise");

let root: string;
let core: string;
let links: string;

function write(path: string, text: string, mode = 0o755) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

async function start(cmd: string, args: string[], opts: { cwd?: string; path?: string } = {}) {
  const r = await execa(cmd, args, {
    cwd: opts.cwd ?? root,
    env: { PATH: opts.path ?? `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: root },
    extendEnv: false,
    reject: false,
  });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { client: string; masquerade?: string; args: string[] };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "reprise-launcher-"));
  core = join(root, "pkg/node_modules/@reprise/core");
  links = join(root, "links");
  mkdirSync(links);
  cpSync(LAUNCHER, join(core, "bin/reprise"));
  write(
    join(core, "dist/native/reprise-native"),
    `#!/bin/sh\nprintf '{"client":"native","args":['\nsep=\nfor a in "$@"; do printf '%s"%s"' "$sep" "$a"; sep=,; done\nprintf ']}'\n`,
  );
  write(
    join(core, "dist/bin/reprise.js"),
    `process.stdout.write(JSON.stringify({ client: "node", masquerade: process.env.REPRISE_MASQUERADE, args: process.argv.slice(2) }));\n`,
    0o644,
  );
  // npm's .bin link is relative, and points at the launcher.
  mkdirSync(join(root, "pkg/node_modules/.bin"), { recursive: true });
  symlinkSync("../@reprise/core/bin/reprise", join(root, "pkg/node_modules/.bin/reprise"));
  symlinkSync(join(root, "pkg/node_modules/.bin/reprise"), join(links, "gcc"));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("bin/reprise", () => {
  const native = () => join(core, "dist/native/reprise-native");

  it("runs the native client when it is built", async () => {
    expect(await start(join(root, "pkg/node_modules/.bin/reprise"), ["gcc", "-c", "a b.c"])).toEqual({ client: "native", args: ["gcc", "-c", "a b.c"] });
    expect(await start(join(core, "bin/reprise"), ["--show-stats"])).toEqual({ client: "native", args: ["--show-stats"] });
  });

  it("passes a compiler link on with its absolute path, however it was named", async () => {
    const expected = { client: "native", args: ["--masquerade", join(links, "gcc"), "-c", "a.c"] };
    expect(await start(join(links, "gcc"), ["-c", "a.c"])).toEqual(expected);
    expect(await start("gcc", ["-c", "a.c"], { path: `${links}:/usr/bin:/bin` })).toEqual(expected);
    expect(await start("./gcc", ["-c", "a.c"], { cwd: links })).toEqual(expected);
  });

  it("follows the links by hand where readlink has no -f", async () => {
    const fakeBin = join(root, "no-readlink-f");
    write(join(fakeBin, "readlink"), `#!/bin/sh\nfor a in "$@"; do [ "$a" = -f ] && exit 1; done\nexec /usr/bin/readlink "$@"\n`);
    expect(await start(join(links, "gcc"), ["-c", "a.c"], { path: `${fakeBin}:/usr/bin:/bin` })).toEqual({
      client: "native",
      args: ["--masquerade", join(links, "gcc"), "-c", "a.c"],
    });
  });

  it("without one built here, runs the prebuilt of the platform package npm installed (--ignore-scripts), beside core or nested in it", async () => {
    rmSync(native());
    const fakePrebuilt = (client: string) =>
      `#!/bin/sh\nprintf '{"client":"${client}","args":['\nsep=\nfor a in "$@"; do printf '%s"%s"' "$sep" "$a"; sep=,; done\nprintf ']}'\n`;
    const beside = join(root, "pkg/node_modules/@reprise/client-linux-x64/bin/reprise");
    write(beside, fakePrebuilt("prebuilt-hoisted"));
    expect(await start(join(root, "pkg/node_modules/.bin/reprise"), ["gcc", "-c", "a.c"])).toEqual({ client: "prebuilt-hoisted", args: ["gcc", "-c", "a.c"] });
    expect(await start(join(links, "gcc"), ["-c", "a.c"])).toEqual({ client: "prebuilt-hoisted", args: ["--masquerade", join(links, "gcc"), "-c", "a.c"] });
    rmSync(join(root, "pkg/node_modules/@reprise/client-linux-x64"), { recursive: true });
    write(join(core, "node_modules/@reprise/client-linux-arm64/bin/reprise"), fakePrebuilt("prebuilt-nested"));
    expect(await start(join(root, "pkg/node_modules/.bin/reprise"), ["gcc"])).toEqual({ client: "prebuilt-nested", args: ["gcc"] });
    rmSync(join(core, "node_modules"), { recursive: true });
  });

  it("runs the Node client when there is no native one, telling it the link in REPRISE_MASQUERADE", async () => {
    rmSync(native(), { force: true });
    expect(await start(join(root, "pkg/node_modules/.bin/reprise"), ["gcc", "-c", "a.c"])).toEqual({ client: "node", args: ["gcc", "-c", "a.c"] });
    expect(await start(join(links, "gcc"), ["-c", "a.c"])).toEqual({ client: "node", masquerade: join(links, "gcc"), args: ["-c", "a.c"] });
  });
});
