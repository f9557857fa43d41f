import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";
import { REPRISE_DIST_BIN } from "../support/farm-processes.js";
import { writeFarmProject } from "../support/farm-project.js";

/**
 * `reprise-dist local-farm --builders 2`: how a new user tries the farm on
 * one machine. It must print exactly the export lines a shell needs, serve
 * compiles with them, and stop its scheduler and builders on Ctrl-C.
 */

let sb: RepriseSandbox;

beforeAll(() => {
  ensureDebianPackages(["bubblewrap"]);
  sb = new RepriseSandbox();
});

afterAll(async () => {
  await sb.dispose();
});

describe("reprise-dist local-farm", () => {
  it("prints the export lines, compiles through its builders, and stops everything on SIGINT", async () => {
    const child = spawn(process.execPath, [REPRISE_DIST_BIN, "local-farm", "--builders", "2", "--sandbox", "bwrap"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      for (let i = 0; i < 600 && out.split("\n").filter(Boolean).length < 2 && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      const lines = out.trim().split("\n");
      expect(lines, err).toHaveLength(2);
      for (const line of lines) expect(line).toMatch(/^export REPRISE_DIST_[A-Z_]+=\S+$/);
      const env = Object.fromEntries(lines.map((l) => l.slice("export ".length).split(/=(.*)/s).slice(0, 2) as [string, string]));
      expect(Object.keys(env).sort()).toEqual(["REPRISE_DIST_SCHEDULER_URL", "REPRISE_DIST_TOKEN"]);
      const urls = [...err.matchAll(/builder local-\d listening at (\S+)/g)].map((m) => m[1]!);
      expect(urls, err).toHaveLength(2);

      const dir = join(sb.root, "proj");
      writeFarmProject(dir, 2, "local-farm");
      mkdirSync(join(dir, "build"), { recursive: true });
      const argv = ["gcc", "-O2", "-g", "-Iinclude", "-MD", "-c", "src/unit0.c", "-o", "build/unit0.o"];
      const ref = await plain(argv[0]!, argv.slice(1), dir);
      expect(ref.exitCode).toBe(0);
      const reference = [readFileSync(join(dir, "build/unit0.o")), readFileSync(join(dir, "build/unit0.d"))];
      const r = await sb.run(argv, dir, { env: { ...env, REPRISE_DIST_MODE: "always" } });
      expect(r.exitCode, text(r.stderr)).toBe(0);
      expect(readFileSync(join(dir, "build/unit0.o")).equals(reference[0]!)).toBe(true);
      expect(readFileSync(join(dir, "build/unit0.d")).equals(reference[1]!)).toBe(true);
      const s = await sb.stats();
      expect(s.remote?.farm?.compiles, JSON.stringify(s.fallbacks)).toBe(1);

      child.kill("SIGINT");
      expect(await exited).toBe(0);
      for (const url of urls) await expect(request(`${url}/v1/health`)).rejects.toThrow();
      await expect(request(`${env.REPRISE_DIST_SCHEDULER_URL}/v1/health`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 240_000);
});
