// Issue 9's attacks on the runtime directory, reproduced with two real local
// users: a victim compiling with XDG_RUNTIME_DIR unset (so in <TMPDIR>/reprise-<uid>,
// TMPDIR a shared sticky directory as /tmp is) and an attacker who got there first.
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPRISE_BIN, REPRISE_NATIVE_BIN, text, type ClientKind } from "../support/reprise-env.js";
import { dirOwnedBy, ensureUser, runAs, sharedStickyDir, type LocalUser } from "../support/local-users.js";

let victim: LocalUser;
let attacker: LocalUser;
let base: string;

beforeAll(() => {
  victim = ensureUser("rsr-victim");
  attacker = ensureUser("rsr-attacker");
  base = mkdtempSync("/tmp/reprise-sec-runtime-");
  chmodSync(base, 0o755);
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

function clientArgv(client: ClientKind): string[] {
  return client === "native" ? [REPRISE_NATIVE_BIN] : [process.execPath, REPRISE_BIN];
}

interface Scene {
  shared: string;
  proj: string;
  /** Where the victim's client looks, with XDG_RUNTIME_DIR unset: <TMPDIR>/reprise-<uid>. */
  runtime: string;
  token: string;
  reference: Buffer;
}

async function scene(): Promise<Scene> {
  const shared = sharedStickyDir(base, "tmp-");
  const proj = dirOwnedBy(victim, base, "proj-");
  writeFileSync(join(proj, "a.c"), "int answer(void) { return 42; }\n");
  chownSync(join(proj, "a.c"), victim.uid, victim.gid);
  const token = `secret-${randomBytes(8).toString("hex")}`;
  const s: Scene = { shared, proj, runtime: join(shared, `reprise-${victim.uid}`), token, reference: Buffer.alloc(0) };
  const plain = await runAs(victim, "gcc", ["-c", "a.c", "-o", "ref.o"], { env: victimEnv(s), cwd: proj });
  expect(plain.exitCode, String(plain.stderr)).toBe(0);
  s.reference = readFileSync(join(proj, "ref.o"));
  return s;
}

function victimEnv(s: Pick<Scene, "shared" | "proj" | "token">, more: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: "/usr/bin:/bin",
    HOME: victim.home,
    LANG: "C",
    LC_ALL: "C",
    TMPDIR: s.shared,
    REPRISE_DIR: join(s.proj, "cache"),
    REPRISE_IDLE_TIMEOUT: "60",
    API_TOKEN: s.token,
    ...more,
  };
}

async function victimCompiles(client: ClientKind, s: Scene, more: Record<string, string> = {}) {
  rmSync(join(s.proj, "a.o"), { force: true });
  const [cmd, ...pre] = clientArgv(client);
  const started = performance.now();
  const r = await runAs(victim, cmd!, [...pre, "gcc", "-c", "a.c", "-o", "a.o"], { env: victimEnv(s, more), cwd: s.proj, timeout: 60_000 });
  const seconds = (performance.now() - started) / 1000;
  const object = (() => {
    try {
      return readFileSync(join(s.proj, "a.o"));
    } catch {
      return undefined;
    }
  })();
  return { exitCode: r.exitCode, stderr: text(r.stderr), seconds, object };
}

async function stopVictimDaemon(client: ClientKind, s: Scene, more: Record<string, string> = {}) {
  const [cmd, ...pre] = clientArgv(client);
  await runAs(victim, cmd!, [...pre, "--stop-server"], { env: victimEnv(s, more), cwd: s.proj, timeout: 30_000 });
}

/** A directory made by the attacker, as the attacker, open to everyone. */
async function attackerMakes(path: string, mode = 0o777): Promise<void> {
  const r = await runAs(attacker, "sh", ["-c", `mkdir -p "$1" && chmod ${mode.toString(8)} "$1"`, "sh", path], { env: { PATH: "/usr/bin:/bin" }, cwd: "/" });
  expect(r.exitCode, String(r.stderr)).toBe(0);
}

/**
 * The attacker's fake daemon: records every connection and byte, and answers
 * every request "run it locally" naming the attacker's own program.
 */
async function attackerListens(s: Scene): Promise<{ record: string; ran: string; stop: () => void }> {
  const lair = dirOwnedBy(attacker, base, "lair-", 0o755);
  const record = join(lair, "received");
  const ran = join(s.shared, "evil-ran");
  const evil = join(lair, "evil-cc");
  writeFileSync(evil, `#!/bin/sh\nid -u > '${ran}'\nexit 0\n`, { mode: 0o755 });
  const script = join(lair, "listen.mjs");
  writeFileSync(
    script,
    `import { createServer } from "node:net";
import { appendFileSync, chmodSync, writeFileSync } from "node:fs";
const [sock, record, evil] = process.argv.slice(2);
writeFileSync(record, "");
const answer = (type, obj) => { const body = Buffer.from(JSON.stringify(obj)); const h = Buffer.alloc(5); h.writeUInt32BE(body.length + 1); h[4] = type; return Buffer.concat([h, body]); };
createServer((c) => {
  appendFileSync(record, "connection\\n");
  c.on("error", () => {});
  c.on("data", (d) => { appendFileSync(record, d); c.end(answer(0x13, { compiler: evil, reason: "linking" })); });
}).listen(sock, () => { chmodSync(sock, 0o777); process.stdout.write("ready\\n"); });
`,
  );
  for (const f of [evil, script]) chownSync(f, attacker.uid, attacker.gid);
  const proc: ResultPromise = runAs(attacker, process.execPath, [script, join(s.runtime, "daemon.sock"), record, evil], { env: { PATH: "/usr/bin:/bin" }, cwd: lair, buffer: false });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("the attacker's listener did not start")), 10_000);
    proc.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return { record, ran, stop: () => void proc.kill("SIGKILL") };
}

function exists(p: string): boolean {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
}

describe.each(["node", "native"] as const)("a squatted runtime directory (%s client)", (client) => {
  it("an attacker listening in <tmp>/reprise-<victim uid> receives nothing, and their compiler path never runs", async () => {
    const s = await scene();
    await attackerMakes(s.runtime);
    const listener = await attackerListens(s);
    try {
      const calls = [await victimCompiles(client, s), await victimCompiles(client, s)];
      const received = readFileSync(listener.record, "latin1");
      expect(received.includes(s.token), "the victim's token reached the attacker").toBe(false);
      expect(received, "bytes the attacker received").toBe("");
      expect(exists(listener.ran), "the attacker's compiler ran as the victim").toBe(false);
      for (const r of calls) {
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.object?.equals(s.reference), "the object of a plain compile").toBe(true);
        expect(r.stderr).toContain(`reprise: not using ${s.runtime}: it belongs to uid ${attacker.uid}, not to you (uid ${victim.uid})`);
        expect(r.stderr).toContain("REPRISE_RUNTIME_DIR");
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
      }
    } finally {
      listener.stop();
    }
  });

  it("an attacker's daemon.log symlink to the victim's file is not followed, and the call is not delayed", async () => {
    const s = await scene();
    const target = join(victim.home, `.rsr-bashrc-${randomBytes(4).toString("hex")}`);
    writeFileSync(target, "original\n");
    chownSync(target, victim.uid, victim.gid);
    try {
      await attackerMakes(s.runtime);
      const r0 = await runAs(attacker, "ln", ["-s", target, join(s.runtime, "daemon.log")], { env: { PATH: "/usr/bin:/bin" }, cwd: "/" });
      expect(r0.exitCode, String(r0.stderr)).toBe(0);
      for (let call = 0; call < 2; call++) {
        const r = await victimCompiles(client, s, { REPRISE_LOG: "debug" });
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.object?.equals(s.reference)).toBe(true);
        expect(r.stderr).toContain(`reprise: not using ${s.runtime}`);
        expect(r.seconds, "no waiting for a daemon that cannot start there").toBeLessThan(3);
      }
      expect(readFileSync(target, "utf8")).toBe("original\n");
    } finally {
      rmSync(target, { force: true });
    }
  });

  it("a runtime directory that is a symlink is refused, even to a directory of the victim's", async () => {
    const s = await scene();
    const own = dirOwnedBy(victim, base, "own-");
    const r0 = await runAs(attacker, "ln", ["-s", own, s.runtime], { env: { PATH: "/usr/bin:/bin" }, cwd: "/" });
    expect(r0.exitCode, String(r0.stderr)).toBe(0);
    const r = await victimCompiles(client, s);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.object?.equals(s.reference)).toBe(true);
    expect(r.stderr).toContain(`reprise: not using ${s.runtime}: it is a symbolic link`);
  });

  it("the victim's own directory open to others is refused; a private one is used and caches", async () => {
    const s = await scene();
    mkdirSync(s.runtime, { mode: 0o755 });
    chownSync(s.runtime, victim.uid, victim.gid);
    chmodSync(s.runtime, 0o755);
    const open = await victimCompiles(client, s);
    expect(open.exitCode, open.stderr).toBe(0);
    expect(open.object?.equals(s.reference)).toBe(true);
    expect(open.stderr).toContain(`reprise: not using ${s.runtime}: other users can use it (mode 755; it must be 700)`);
    rmSync(s.runtime, { recursive: true });
    try {
      for (let call = 0; call < 2; call++) {
        const r = await victimCompiles(client, s);
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stderr).toBe("");
        expect(r.object?.equals(s.reference)).toBe(true);
      }
      const [cmd, ...pre] = clientArgv(client);
      const stats = await runAs(victim, cmd!, [...pre, "--show-stats", "--json"], { env: victimEnv(s), cwd: s.proj });
      const json = JSON.parse(text(stats.stdout)) as { stats: { hitsDirect: number; misses: number } };
      expect(json.stats.misses).toBe(1);
      expect(json.stats.hitsDirect).toBe(1);
    } finally {
      await stopVictimDaemon(client, s);
    }
  });
});

describe.each(["node", "native"] as const)("files in the victim's own runtime directory (%s client)", (client) => {
  it("the daemon never writes through a symlink planted as daemon.log", async () => {
    const s = await scene();
    const run = join(s.proj, "run");
    mkdirSync(run, { mode: 0o700 });
    chownSync(run, victim.uid, victim.gid);
    const target = join(victim.home, `.rsr-profile-${randomBytes(4).toString("hex")}`);
    writeFileSync(target, "original\n");
    chownSync(target, victim.uid, victim.gid);
    symlinkSync(target, join(run, "daemon.log"));
    lchownSync(join(run, "daemon.log"), victim.uid, victim.gid);
    const env = { REPRISE_RUNTIME_DIR: run, REPRISE_LOG: "debug" };
    try {
      for (let call = 0; call < 2; call++) {
        const r = await victimCompiles(client, s, env);
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.object?.equals(s.reference)).toBe(true);
      }
      expect(readFileSync(target, "utf8")).toBe("original\n");
    } finally {
      await stopVictimDaemon(client, s, env);
      rmSync(target, { force: true });
    }
  });
});

describe("the daemon itself", () => {
  it("started by hand in a squatted directory, refuses it and writes nothing there", async () => {
    const s = await scene();
    await attackerMakes(s.runtime);
    const entry = join(import.meta.dirname, "../../packages/core/dist/daemon/entry.js");
    const r = await runAs(victim, process.execPath, [entry], { env: victimEnv(s), cwd: s.proj, timeout: 30_000 });
    expect(r.exitCode).toBe(1);
    expect(text(r.stderr)).toContain(`runtime directory ${s.runtime} cannot be used: it belongs to uid ${attacker.uid}`);
    expect(readdirSync(s.runtime)).toEqual([]);
  });
});
