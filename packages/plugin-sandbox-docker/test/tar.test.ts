import { execFileSync } from "node:child_process";
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { treeTar } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-tar-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("treeTar (the stream docker/podman import read)", () => {
  it("is read back by GNU tar as the same tree: long names, long link texts, hard links, modes, owners 0", async () => {
    const root = join(dir, "root");
    const deep = join(root, "usr/lib", "d".repeat(90), "e".repeat(90));
    mkdirSync(deep, { recursive: true });
    mkdirSync(join(root, "usr/bin"), { recursive: true });
    writeFileSync(join(root, "usr/bin/tool"), "#!/bin/sh\necho hi\n");
    chmodSync(join(root, "usr/bin/tool"), 0o755);
    writeFileSync(join(deep, "f".repeat(120)), Buffer.alloc(70_000, 7)); // name > 255 bytes: PAX
    writeFileSync(join(deep, "short"), "x"); // prefix + name
    symlinkSync("/" + "l".repeat(150), join(root, "usr/bin/longlink")); // link text > 100: PAX
    symlinkSync("tool", join(root, "usr/bin/alias"));
    linkSync(join(root, "usr/bin/tool"), join(root, "usr/bin/hard"));
    writeFileSync(join(root, "é-ü"), "");
    const chunks: Buffer[] = [];
    for await (const c of treeTar(root)) chunks.push(c);
    const tar = Buffer.concat(chunks);
    expect(tar.length % 512).toBe(0);
    writeFileSync(join(dir, "t.tar"), tar);
    const listing = execFileSync("tar", ["--numeric-owner", "--quoting-style=literal", "-tvf", join(dir, "t.tar")], { encoding: "utf8" }); // names as they are, whatever the locale
    for (const line of listing.trim().split("\n")) expect(line).toMatch(/^\S+ 0\/0 /);
    // sorted: usr/bin/hard comes first and holds the data; usr/bin/tool is the same file
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 +18 1970-01-01 00:00 usr\/bin\/hard$/m);
    expect(listing).toMatch(/^hrwxr-xr-x 0\/0 +0 1970-01-01 00:00 usr\/bin\/tool link to usr\/bin\/hard$/m);
    const names = listing.trim().split("\n").map((l) => l.split(/\s+/).slice(5).join(" ").replace(/ (->|link to) .*$/, ""));
    expect(names).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    const out = join(dir, "out");
    mkdirSync(out);
    execFileSync("tar", ["-xf", join(dir, "t.tar"), "-C", out]);
    const long = join(out, "usr/lib", "d".repeat(90), "e".repeat(90), "f".repeat(120));
    expect(readFileSync(long).equals(Buffer.alloc(70_000, 7))).toBe(true);
    expect(readFileSync(join(out, "usr/lib", "d".repeat(90), "e".repeat(90), "short"), "utf8")).toBe("x");
    expect(readlinkSync(join(out, "usr/bin/longlink"))).toBe("/" + "l".repeat(150));
    expect(readlinkSync(join(out, "usr/bin/alias"))).toBe("tool");
    expect(lstatSync(join(out, "usr/bin/tool")).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(out, "usr/bin/hard")).ino).toBe(lstatSync(join(out, "usr/bin/tool")).ino);
    expect(readFileSync(join(out, "é-ü"), "utf8")).toBe("");
  });

  it("adds the directories an image needs, with their modes", async () => {
    const root = join(dir, "small");
    mkdirSync(join(root, "usr"), { recursive: true });
    mkdirSync(join(root, "var"), { recursive: true });
    const listing = async (r: string, emptyDirs: Record<string, number>) => {
      const chunks: Buffer[] = [];
      for await (const c of treeTar(r, { emptyDirs })) chunks.push(c);
      writeFileSync(join(dir, "s.tar"), Buffer.concat(chunks));
      return execFileSync("tar", ["--numeric-owner", "-tvf", join(dir, "s.tar")], { encoding: "utf8" }).trim().split("\n").map((l) => `${l.split(/\s+/)[0]} ${l.split(/\s+/).at(-1)}`);
    };
    expect(await listing(root, { tmp: 0o1777 })).toEqual(["drwxrwxrwt tmp/", "drwxr-xr-x usr/", "drwxr-xr-x var/"]);
    mkdirSync(join(root, "tmp"), { mode: 0o700 });
    writeFileSync(join(root, "tmp/kept"), "k");
    expect(await listing(root, { tmp: 0o1777 })).toEqual(["drwxrwxrwt tmp/", "-rw-r--r-- tmp/kept", "drwxr-xr-x usr/", "drwxr-xr-x var/"]);
  });

  it("refuses what cannot go into an image", async () => {
    const root = join(dir, "fifo");
    mkdirSync(root);
    execFileSync("mkfifo", [join(root, "p")]);
    const drain = async () => {
      for await (const c of treeTar(root)) void c;
    };
    await expect(drain()).rejects.toThrow(/not a file, directory or symlink/);
  });
});
