// The native client against a scripted daemon: what it sends, how it relays
// the answer, and where it falls back. The real daemon is in test/e2e/native-client.test.ts.
import { createServer, type Server, type Socket } from "node:net";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { execa, execaSync } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeCompileRequest, exitFrame, frame, FrameReader, FrameType, PROTOCOL_VERSION } from "../../src/protocol/frames.js";
import { REPRISE_VERSION } from "../../src/version.js";

const CORE = resolve(import.meta.dirname, "../..");
const NATIVE = join(CORE, "dist/native/reprise-native");
const NODE_CLIENT = join(CORE, "dist/bin/reprise.js");
const LAUNCHER = join(CORE, "bin/reprise");

type Answer = (request: { type: number; payload: Buffer }, socket: Socket) => void;

/** A daemon that records each request's bytes and answers as the test says. */
class ScriptedDaemon {
  readonly requests: Buffer[] = [];
  private server?: Server;

  constructor(
    readonly sock: string,
    private answer: Answer,
  ) {}

  start(): Promise<this> {
    mkdirSync(dirname(this.sock), { recursive: true, mode: 0o700 });
    rmSync(this.sock, { force: true });
    this.server = createServer((socket) => {
      const reader = new FrameReader();
      const raw: Buffer[] = [];
      let answered = false;
      socket.on("error", () => {});
      socket.on("data", (chunk) => {
        raw.push(chunk);
        const [first] = reader.push(chunk);
        if (!first || answered) return;
        answered = true;
        this.requests.push(Buffer.concat(raw));
        this.answer(first, socket);
      });
    });
    return new Promise((res) => this.server!.listen(this.sock, () => res(this)));
  }

  close(): Promise<void> {
    return new Promise((res) => (this.server ? this.server.close(() => res()) : res()));
  }
}

const replyExit =
  (code: number, stdout = "", stderr = ""): Answer =>
  (_req, s) => {
    if (stdout) s.write(frame(FrameType.Stdout, stdout));
    if (stderr) s.write(frame(FrameType.Stderr, stderr));
    s.end(exitFrame(code));
  };

let root: string;
let bin: string;

/** A minimal environment, so both clients see exactly the same one. */
function env(more: Record<string, string> = {}): Record<string, string> {
  return { PATH: `${bin}:/usr/bin:/bin`, HOME: root, PWD: root, LANG: "C", REPRISE_RUNTIME_DIR: join(root, "run"), ...more };
}

function run(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; input?: string } = {}) {
  return execa(cmd, args, { env: opts.env ?? env(), extendEnv: false, cwd: opts.cwd ?? root, reject: false, input: opts.input ?? "", stripFinalNewline: false, timeout: 30_000 });
}

describe("native client", () => {
  it("was built by the build (npm run build compiles it with the system C compiler)", () => {
    expect(existsSync(NATIVE), `${NATIVE} is missing: is there a C compiler?`).toBe(true);
  });

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "reprise-native-"));
    bin = join(root, "bin");
    mkdirSync(bin);
    // fakecc prints how it was started and what it read, so a test sees which program ran.
    writeFileSync(
      join(root, "fakecc.c"),
      `#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  char buf[4096]; size_t n, total = 0;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) total += n;
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\\n", i, argv[i]);
  const char *m = getenv("REPRISE_MASQUERADE");
  printf("stdin=%zu masquerade=%s\\n", total, m ? m : "-");
  return 7;
}
`,
    );
    execaSync("cc", ["-o", join(bin, "fakecc"), join(root, "fakecc.c")]);
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("sends the Compile frame byte for byte as the Node client does", async () => {
    const d = await new ScriptedDaemon(join(root, "run/daemon.sock"), replyExit(0)).start();
    try {
      const args = ["fakecc", "-c", "ü ñ.c", "", "-DX=\"a b\""];
      expect((await run(NATIVE, args)).exitCode).toBe(0);
      expect((await run(process.execPath, [NODE_CLIENT, ...args])).exitCode).toBe(0);
      // The same call as a compiler link: to the native binary, to the launcher, and the Node client's own link.
      const links = join(root, "links");
      mkdirSync(links, { recursive: true });
      const link = join(links, "fakecc");
      for (const target of [NATIVE, LAUNCHER, NODE_CLIENT]) {
        rmSync(link, { force: true });
        symlinkSync(target, link);
        expect((await run(link, args.slice(1))).exitCode).toBe(0);
      }
      const [native, node, ...masqueraded] = d.requests;
      // The same frame but for flag 4 (reads the hit index), which only the native client sends.
      expect(native![9]! & 4).toBe(4);
      expect(node![9]! & 4).toBe(0);
      const unflagged = (b: Buffer) => {
        const copy = Buffer.from(b);
        copy[9] = copy[9]! & ~4;
        return copy;
      };
      expect(unflagged(native!).toString("latin1")).toBe(node!.toString("latin1"));
      expect(native!.readUInt32BE(5)).toBe(PROTOCOL_VERSION);
      expect(native!.subarray(10).toString()).toContain(`${REPRISE_VERSION}\0${root}\0\0`);
      expect(masqueraded).toHaveLength(3);
      expect(masqueraded[0]!.subarray(10).toString()).toContain(`\0${link}\0`);
      expect(unflagged(masqueraded[0]!).equals(masqueraded[2]!)).toBe(true);
      // sh passes the environment on in another order (and sets PWD, which env() already has right).
      const sorted = (b: Buffer) => {
        const r = decodeCompileRequest(new FrameReader().push(unflagged(b))[0]!.payload);
        return { ...r, env: [...r.env].sort() };
      };
      expect(sorted(masqueraded[1]!)).toEqual(sorted(masqueraded[2]!));
    } finally {
      await d.close();
    }
  });

  it("relays stdout and stderr byte for byte, in many frames, and exits with the daemon's status", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 131) & 0xff;
    const d = await new ScriptedDaemon(join(root, "run/daemon.sock"), (_req, s) => {
      for (let off = 0; off < big.length; off += 100_000) s.write(frame(FrameType.Stdout, big.subarray(off, off + 100_000)));
      s.write(frame(FrameType.Stderr, "warning: one\n"));
      s.write(frame(FrameType.Stdout, Buffer.alloc(0)));
      s.write(frame(FrameType.Stderr, "warning: two\n"));
      s.end(exitFrame(3));
    }).start();
    try {
      const r = await execa(NATIVE, ["fakecc", "-c", "a.c"], { env: env(), extendEnv: false, cwd: root, reject: false, encoding: "buffer", stripFinalNewline: false });
      expect(r.exitCode).toBe(3);
      expect(Buffer.from(r.stdout).equals(big)).toBe(true);
      expect(Buffer.from(r.stderr).toString()).toBe("warning: one\nwarning: two\n");
    } finally {
      await d.close();
    }
    for (const [status, expected] of [
      [0, 0],
      [1, 1],
      [255, 255],
      [256 + 4, 4],
      [-1, 255],
    ] as const) {
      const e = await new ScriptedDaemon(join(root, "run/daemon.sock"), replyExit(status)).start();
      try {
        expect((await run(NATIVE, ["fakecc"])).exitCode, `status ${status}`).toBe(expected);
      } finally {
        await e.close();
      }
    }
  });

  it("RunLocally: never runs a path the daemon names; runs argv[0] from its own PATH with the terminal's stdin, and prints the (JSON-escaped) notice once for both clients", async () => {
    const dir = join(root, 'odd "dir" \\ ü 😀');
    mkdirSync(dir, { recursive: true });
    const ran = join(root, "evil-ran");
    writeFileSync(join(dir, "evil"), `#!/bin/sh\ntouch '${ran}'\nexit 0\n`, { mode: 0o755 });
    const escaped = JSON.stringify(join(dir, "evil")).replaceAll("/", "\\/").replace("ü", "\\u00fc").replace("😀", "\\ud83d\\ude00");
    const notice = 'bad "setting" ü 😀 {[';
    const payload = `{"reason": "linking \\"x\\" {[", "n": [1, {"a": "}"}], "compiler" : ${escaped}, "notice": ${JSON.stringify(notice).replace("ü", "\\u00fc").replace("😀", "\\ud83d\\ude00")}}`;
    expect(JSON.parse(payload).notice).toBe(notice);
    const d = await new ScriptedDaemon(join(root, "run/daemon.sock"), (_req, s) => s.end(frame(FrameType.RunLocally, payload))).start();
    const line = `reprise: ${notice} (compiling without cache)\n`;
    const clearMarkers = () => {
      for (const f of readdirSync(join(root, "run"))) if (f.startsWith("notice-")) rmSync(join(root, "run", f));
    };
    try {
      clearMarkers();
      const r = await run(NATIVE, ["fakecc", "a.o", "-o", "prog"], { input: "12345" });
      expect(r.exitCode, r.stderr).toBe(7);
      expect(r.stdout).toBe("argv[0]=fakecc\nargv[1]=a.o\nargv[2]=-o\nargv[3]=prog\nstdin=5 masquerade=-\n");
      expect(r.stderr).toBe(line);
      // Within the window, neither client prints it again: they share the marker.
      for (const client of [[NATIVE], [process.execPath, NODE_CLIENT]]) {
        const again = await run(client[0]!, [...client.slice(1), "fakecc", "a.o"]);
        expect(again.exitCode).toBe(7);
        expect(again.stdout).toBe("argv[0]=fakecc\nargv[1]=a.o\nstdin=0 masquerade=-\n");
        expect(again.stderr).toBe("");
      }
      clearMarkers();
      const node = await run(process.execPath, [NODE_CLIENT, "fakecc", "a.o"]);
      expect(node.stderr).toBe(line);
      expect(existsSync(ran), "the daemon's compiler path was executed").toBe(false);
    } finally {
      await d.close();
    }
  });

  it("RunLocally with a bare name: looks it up on PATH, past the masquerade link's directory", async () => {
    const links = join(root, "links2");
    mkdirSync(links, { recursive: true });
    symlinkSync(NATIVE, join(links, "fakecc"));
    const d = await new ScriptedDaemon(join(root, "run/daemon.sock"), (_req, s) => s.end(frame(FrameType.RunLocally, '{"compiler":"fakecc","reason":"daemon stopping"}'))).start();
    try {
      const r = await run("fakecc", ["-c", "x.c"], { env: env({ PATH: `${links}:${bin}:/usr/bin:/bin` }) });
      expect(r.exitCode, r.stderr).toBe(7);
      expect(r.stdout).toBe(`argv[0]=${join(bin, "fakecc")}\nargv[1]=-c\nargv[2]=x.c\nstdin=0 masquerade=-\n`);
      expect((await run(NATIVE, ["fakecc", "-c", "x.c"])).stdout).toBe("argv[0]=fakecc\nargv[1]=-c\nargv[2]=x.c\nstdin=0 masquerade=-\n");
      // Not a compiler anywhere: the Node client's message and status.
      const missing = await run(NATIVE, ["no-such-cc", "-c", "x.c"]);
      expect(missing.exitCode).toBe(127);
      expect(missing.stderr).toContain('cannot find compiler "no-such-cc" on PATH');
    } finally {
      await d.close();
    }
  });

  it("a connection that closes before the final frame: the compiler runs here", async () => {
    const d = await new ScriptedDaemon(join(root, "run/daemon.sock"), (_req, s) => {
      s.write(frame(FrameType.Stderr, "partial "));
      s.destroy();
    }).start();
    try {
      const r = await run(NATIVE, ["fakecc", "-c", "x.c"]);
      expect(r.exitCode).toBe(7);
      expect(r.stdout).toContain("argv[0]=fakecc\n");
    } finally {
      await d.close();
    }
  });

  it("no daemon and no usable runtime dir: the Node client takes over and the compiler runs", async () => {
    writeFileSync(join(root, "blocker"), "");
    const e = env({ REPRISE_RUNTIME_DIR: join(root, "blocker", "run") });
    const r = await run(NATIVE, ["fakecc", "-c", "x.c"], { env: e, input: "abc" });
    expect(r.exitCode, r.stderr).toBe(7);
    expect(r.stdout).toBe("argv[0]=fakecc\nargv[1]=-c\nargv[2]=x.c\nstdin=3 masquerade=-\n");
    // As a link: the Node client is told the link (REPRISE_MASQUERADE) and does not pass that on.
    const links = join(root, "links3");
    mkdirSync(links, { recursive: true });
    symlinkSync(NATIVE, join(links, "fakecc"));
    const m = await run("fakecc", ["-c", "x.c"], { env: { ...e, PATH: `${links}:${bin}:/usr/bin:/bin` } });
    expect(m.exitCode, m.stderr).toBe(7);
    expect(m.stdout).toMatch(/^argv\[0\]=(.*\/)?fakecc\nargv\[1\]=-c\nargv\[2\]=x.c\nstdin=0 masquerade=-\n$/);
  });

  it("no Node client beside it: the compiler runs directly", async () => {
    const lone = join(root, "lone/dist/native");
    mkdirSync(lone, { recursive: true });
    cpSync(NATIVE, join(lone, "reprise-native"));
    const r = await run(join(lone, "reprise-native"), ["fakecc", "-c", "x.c"], { env: env({ REPRISE_RUNTIME_DIR: join(root, "nothing-here") }) });
    expect(r.exitCode, r.stderr).toBe(7);
    expect(r.stdout).toContain("argv[0]=fakecc\n");
  });

  it("a daemon of another version, and this binary older than its package: says so, and the call still runs", async () => {
    const lone = join(root, "stale");
    mkdirSync(join(lone, "dist/native"), { recursive: true });
    cpSync(NATIVE, join(lone, "dist/native/reprise-native"));
    writeFileSync(join(lone, "dist/version.js"), 'export const REPRISE_VERSION = "9.9.9";\n');
    const d = await new ScriptedDaemon(join(root, "run/daemon.sock"), (_req, s) => s.end(frame(FrameType.VersionMismatch, '{"protocol":1,"version":"9.9.9"}'))).start();
    try {
      const r = await run(join(lone, "dist/native/reprise-native"), ["fakecc", "-c", "x.c"]);
      expect(r.exitCode).toBe(7);
      expect(r.stderr).toContain(`native client is version ${REPRISE_VERSION} but the package is 9.9.9`);
    } finally {
      await d.close();
    }
  });

  it("administrative commands are the Node client's", async () => {
    const v = await run(NATIVE, ["--version"]);
    expect(v.stdout.trim()).toBe(REPRISE_VERSION);
    const help = await run(NATIVE, ["--help"]);
    expect(help.stdout).toContain("install-native");
    // No arguments: the usage on stderr and a failure, as the Node client says it.
    const none = await run(NATIVE, []);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toMatch(/^Usage: reprise <compiler>/);
  });

  it("finds the socket where util/paths.ts puts it", async () => {
    const cases: Record<string, string>[] = [
      { REPRISE_RUNTIME_DIR: "rel/./x/../run" },
      { REPRISE_RUNTIME_DIR: join(root, "abs//run/") },
      { XDG_RUNTIME_DIR: `${join(root, "xdg")}/` },
      { XDG_RUNTIME_DIR: "", TMPDIR: `${join(root, "tmpdir")}/` },
      { TMP: join(root, "tmp2") },
      { TEMP: join(root, "temp3") },
    ];
    for (const c of cases) {
      const e: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, HOME: root, ...c };
      // Where the Node client, started the same way, would look.
      const asNode = `import("${join(CORE, "dist/util/paths.js")}").then((p) => process.stdout.write(require("node:path").resolve(p.socketPath(p.runtimeDir()))))`;
      const expected = execaSync(process.execPath, ["-e", asNode], { env: e, extendEnv: false, cwd: root }).stdout;
      expect(expected.startsWith(root), expected).toBe(true);
      const d = await new ScriptedDaemon(expected, replyExit(0, `answered at ${expected}`)).start();
      try {
        const r = await run(NATIVE, ["fakecc"], { env: e });
        expect(r.stdout, JSON.stringify(c)).toBe(`answered at ${expected}`);
      } finally {
        await d.close();
      }
    }
  });
});

describe("native client build", () => {
  it("is warnings-clean with -Wall -Wextra under gcc and clang", () => {
    for (const cc of ["gcc", "clang"]) {
      const r = execaSync(cc, ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", '-DREPRISE_VERSION="0"', "-DREPRISE_PROTOCOL=1", "-fsyntax-only", join(CORE, "native/reprise-native.c")], { reject: false });
      expect(r.exitCode, `${cc}: ${r.stderr}`).toBe(0);
    }
  });

  it("links the client against musl on x86-64 (scripts/setup.sh installs musl-tools), and builds it with the next compiler when musl-gcc fails", async () => {
    expect(process.platform === "linux" && process.arch === "x64", "this test runs on linux x64, where the client is built with musl-gcc").toBe(true);
    const glibcMarker = /GNU C Library|glibc/;
    const built = readFileSync(join(CORE, "dist/native/reprise-native")).toString("latin1");
    expect(glibcMarker.test(built), "npm run build's client is linked against musl, not glibc").toBe(false);
    const pkg = mkdtempSync(join(tmpdir(), "reprise-build-musl-"));
    try {
      for (const d of ["scripts", "src/protocol", "bin"]) mkdirSync(join(pkg, d), { recursive: true });
      cpSync(join(CORE, "native"), join(pkg, "native"), { recursive: true });
      cpSync(join(CORE, "scripts/build-native.mjs"), join(pkg, "scripts/build-native.mjs"));
      cpSync(join(CORE, "scripts/native-targets.mjs"), join(pkg, "scripts/native-targets.mjs"));
      cpSync(join(CORE, "src/version.ts"), join(pkg, "src/version.ts"));
      cpSync(join(CORE, "src/protocol/frames.ts"), join(pkg, "src/protocol/frames.ts"));
      // A musl-gcc that fails first on PATH: the build goes on with cc, as before.
      writeFileSync(join(pkg, "bin/musl-gcc"), "#!/bin/sh\necho 'musl-gcc: broken on purpose' >&2\nexit 1\n", { mode: 0o755 });
      const r = await execa(process.execPath, [join(pkg, "scripts/build-native.mjs")], { env: { PATH: `${join(pkg, "bin")}:${process.env.PATH}` }, reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/built the native client .* with cc/);
      expect(glibcMarker.test(readFileSync(join(pkg, "dist/native/reprise-native")).toString("latin1")), "the fallback is glibc's").toBe(true);
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  });

  it("without a C compiler, the build says so, leaves no binary and succeeds; install-native fails", async () => {
    // A copy of the package layout, so the real binary stays.
    const pkg = mkdtempSync(join(tmpdir(), "reprise-build-native-"));
    try {
      for (const d of ["scripts", "src/protocol"]) mkdirSync(join(pkg, d), { recursive: true });
      // The client's sources with every file they include.
      cpSync(join(CORE, "native"), join(pkg, "native"), { recursive: true });
      cpSync(join(CORE, "scripts/build-native.mjs"), join(pkg, "scripts/build-native.mjs"));
      cpSync(join(CORE, "scripts/native-targets.mjs"), join(pkg, "scripts/native-targets.mjs"));
      cpSync(join(CORE, "src/version.ts"), join(pkg, "src/version.ts"));
      cpSync(join(CORE, "src/protocol/frames.ts"), join(pkg, "src/protocol/frames.ts"));
      const script = join(pkg, "scripts/build-native.mjs");
      const ok = await execa(process.execPath, [script], { reject: false });
      expect(ok.exitCode, ok.stderr).toBe(0);
      const out = join(pkg, "dist/native/reprise-native");
      expect(existsSync(out)).toBe(true);
      const none = await execa(process.execPath, [script], { env: { CC: "no-such-cc" }, reject: false });
      expect(none.exitCode).toBe(0);
      expect(none.stdout + none.stderr).toMatch(/no C compiler found/);
      expect(existsSync(out)).toBe(false);
      const required = await execa(process.execPath, [script, "--required"], { env: { CC: "no-such-cc" }, reject: false });
      expect(required.exitCode).toBe(1);
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  });
});
