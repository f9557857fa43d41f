// The checks both clients make before they use the runtime directory, the
// files they write there, and the notice rate limit: on real files, with a
// real other owner (root chowns to the nobody user).
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkOwnSocket, checkPrivateDir } from "../../src/util/private-dir.js";
import { appendPrivate, createExclusive, readPrivate, writePrivate } from "../../src/util/private-file.js";
import { NOTICE_WINDOW_MS, noticeKey, printNoticeOnce } from "../../src/client/terminal-notice.js";
import { failureKey, recentFailureFor, recordStartupFailure } from "../../src/daemon/startup-failure.js";

const NOBODY = 65534;
let root: string;
const servers: Server[] = [];

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error("these tests chown files to another user: run them as root");
  root = mkdtempSync(join(tmpdir(), "reprise-runtime-checks-"));
});

afterAll(() => {
  for (const s of servers) s.close();
  rmSync(root, { recursive: true, force: true });
});

function dir(name: string, mode = 0o700): string {
  const d = join(root, name);
  mkdirSync(d);
  chmodSync(d, mode);
  return d;
}

function listen(path: string): Promise<void> {
  const s = createServer(() => {});
  servers.push(s);
  return new Promise((r) => s.listen(path, () => r()));
}

describe("checkPrivateDir", () => {
  it("accepts the user's own 0700 directory and reports a missing one as absent", () => {
    expect(checkPrivateDir(dir("ok"))).toEqual({ kind: "ok" });
    expect(checkPrivateDir(join(root, "missing"))).toEqual({ kind: "absent" });
  });

  it("refuses another user's directory, a symlink (even to an own directory), a file, and any mode open to others", () => {
    const other = dir("other");
    chownSync(other, NOBODY, NOBODY);
    expect(checkPrivateDir(other)).toEqual({ kind: "unsafe", problem: `it belongs to uid ${NOBODY}, not to you (uid 0)` });
    symlinkSync(dir("target"), join(root, "link"));
    expect(checkPrivateDir(join(root, "link"))).toEqual({ kind: "unsafe", problem: "it is a symbolic link" });
    writeFileSync(join(root, "file"), "");
    expect(checkPrivateDir(join(root, "file"))).toEqual({ kind: "unsafe", problem: "it is not a directory" });
    for (const mode of [0o750, 0o705, 0o701, 0o1777]) {
      const d = dir(`mode-${mode.toString(8)}`, mode);
      expect(checkPrivateDir(d)).toEqual({ kind: "unsafe", problem: `other users can use it (mode ${(mode & 0o777).toString(8)}; it must be 700)` });
    }
  });

  it("calls a path under a file unusable, not unsafe", () => {
    expect(checkPrivateDir(join(root, "file", "run")).kind).toBe("unusable");
  });
});

describe("checkOwnSocket", () => {
  it("accepts the user's socket; refuses another user's, a symlink to one, and a file in its place", async () => {
    const d = dir("sockets");
    await listen(join(d, "mine.sock"));
    expect(checkOwnSocket(join(d, "mine.sock"))).toEqual({ kind: "ok" });
    expect(checkOwnSocket(join(d, "none.sock"))).toEqual({ kind: "absent" });
    await listen(join(d, "theirs.sock"));
    lchownSync(join(d, "theirs.sock"), NOBODY, NOBODY);
    expect(checkOwnSocket(join(d, "theirs.sock")).kind).toBe("unsafe");
    symlinkSync(join(d, "mine.sock"), join(d, "link.sock"));
    expect(checkOwnSocket(join(d, "link.sock"))).toEqual({ kind: "unsafe", problem: "it is a symbolic link" });
    writeFileSync(join(d, "file.sock"), "");
    expect(checkOwnSocket(join(d, "file.sock"))).toEqual({ kind: "unsafe", problem: "it is not a socket" });
  });
});

describe("files in the runtime directory", () => {
  it("are never written or read through a symlink, and are created 0600", () => {
    const d = dir("files");
    const victim = join(root, "victim-file");
    writeFileSync(victim, "original\n");
    symlinkSync(victim, join(d, "daemon.log"));
    expect(() => appendPrivate(join(d, "daemon.log"), "line\n")).toThrow(/ELOOP/);
    expect(() => writePrivate(join(d, "daemon.log"), "x")).toThrow(/ELOOP/);
    expect(readPrivate(join(d, "daemon.log"))).toBeUndefined();
    expect(createExclusive(join(d, "daemon.log"))).toBe(false);
    expect(readFileSync(victim, "utf8")).toBe("original\n");
    appendPrivate(join(d, "own.log"), "a\n");
    appendPrivate(join(d, "own.log"), "b\n");
    expect(readPrivate(join(d, "own.log"))).toBe("a\nb\n");
    expect(statSync(join(d, "own.log")).mode & 0o777).toBe(0o600);
  });
});

describe("notices", () => {
  it("print once per window, per message, for every client of the user", () => {
    const d = dir("notices");
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      const now = Date.now();
      expect(printNoticeOnce(d, "bad setting")).toBe(true);
      expect(printNoticeOnce(d, "bad setting")).toBe(false);
      expect(printNoticeOnce(d, "another bad setting")).toBe(true);
      // A window later, once more.
      const marker = join(d, `notice-${noticeKey("bad setting")}`);
      utimesSync(marker, (now - NOTICE_WINDOW_MS - 1000) / 1000, (now - NOTICE_WINDOW_MS - 1000) / 1000);
      expect(printNoticeOnce(d, "bad setting")).toBe(true);
    } finally {
      process.stderr.write = write;
    }
    expect(written).toEqual(["reprise: bad setting (compiling without cache)\n", "reprise: another bad setting (compiling without cache)\n", "reprise: bad setting (compiling without cache)\n"]);
    // The native client's FNV-1a 64 of the same bytes (known value of the empty string and of "a").
    expect(noticeKey("")).toBe("cbf29ce484222325");
    expect(noticeKey("a")).toBe("af63dc4c8601ec8c");
  });
});

describe("start-up failures", () => {
  it("stand for 10 s for the same cwd and settings environment only", () => {
    const d = dir("failures");
    const env = { HOME: "/home/u", REPRISE_CACHE_SIZE: "abc", PATH: "/bin" };
    recordStartupFailure(d, new Error("  bad size \n"), "/p", env);
    expect(recentFailureFor(d, "/p", env)?.message).toBe("bad size");
    expect(recentFailureFor(d, "/p", { ...env, PATH: "/usr/bin" }), "PATH does not decide settings").toBeDefined();
    expect(recentFailureFor(d, "/q", env)).toBeUndefined();
    expect(recentFailureFor(d, "/p", { ...env, REPRISE_CACHE_SIZE: "1G" })).toBeUndefined();
    expect(recentFailureFor(d, "/p", env, Date.now() + 11_000)).toBeUndefined();
    expect(failureKey("/p", { REPRISE_A: "1", REPRISE_A0: "2" })).toBe(failureKey("/p", { REPRISE_A0: "2", REPRISE_A: "1" }));
  });
});
