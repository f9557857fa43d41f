/** Where the scheduler's settings come from: file (JSON/YAML), then REPRISE_DIST_* variables, then --listen. */
import { afterAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "@reprise/core/errors";
import { loadSchedulerConfig } from "../src/scheduler/config.js";
import { tempDir } from "./support/scheduler-process.js";

describe("scheduler config", () => {
  const dir = tempDir("cfg");
  afterAll(() => dir.remove());

  it("finds a YAML file in the working directory and fills defaults", async () => {
    writeFileSync(join(dir.path, "reprise-dist.config.yaml"), "listen: 0.0.0.0:7500\nauth:\n  clientTokens: [cccccccccccccccccccc]\nqueue:\n  maxLength: 10\n");
    const config = await loadSchedulerConfig({ cwd: dir.path, env: {} });
    expect(config.listen).toBe("0.0.0.0:7500");
    expect(config.auth.clientTokens).toEqual(["cccccccccccccccccccc"]);
    expect(config.queue).toEqual({ defaultWaitMs: 2000, maxWaitMs: 30000, maxLength: 10 });
    // No alg: HS256, or a key file's own (scheduler/start.ts).
    expect(config.jobTokens).toEqual({ ttlSeconds: 300 });
    expect(config.heartbeatIntervalMs).toBe(5000);
    expect(config.configFile).toBe(join(dir.path, "reprise-dist.config.yaml"));
  });

  it("lets REPRISE_DIST_* override the file and --listen override both", async () => {
    const file = join(dir.path, "explicit.json");
    writeFileSync(file, JSON.stringify({ listen: "127.0.0.1:1", auth: { clientTokens: ["c".repeat(16)] } }));
    const env = {
      REPRISE_DIST_LISTEN: "127.0.0.1:2",
      REPRISE_DIST_CLIENT_TOKENS: "x".repeat(16) + ", " + "y".repeat(16),
      REPRISE_DIST_BUILDER_TOKENS: "b".repeat(16),
      REPRISE_DIST_HEARTBEAT_MS: "750",
      REPRISE_DIST_JOB_TOKEN_ALG: "ES256",
      REPRISE_DIST_TLS_CERT: "/c.pem",
      REPRISE_DIST_TLS_KEY: "/k.pem",
    };
    const fromEnv = await loadSchedulerConfig({ configPath: file, env });
    expect(fromEnv).toMatchObject({ listen: "127.0.0.1:2", heartbeatIntervalMs: 750, jobTokens: { alg: "ES256" }, tls: { cert: "/c.pem", key: "/k.pem", requestClientCert: false } });
    expect(fromEnv.auth.clientTokens).toEqual(["x".repeat(16), "y".repeat(16)]);
    expect((await loadSchedulerConfig({ configPath: file, env, listen: "127.0.0.1:3" })).listen).toBe("127.0.0.1:3");
  });

  it("names the bad key", async () => {
    const file = join(dir.path, "bad.json");
    writeFileSync(file, JSON.stringify({ jobTokens: { ttlSeconds: 3600 } }));
    const error = await loadSchedulerConfig({ configPath: file, env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/jobTokens\.ttlSeconds/);
    const badEnv = await loadSchedulerConfig({ configPath: file, env: { REPRISE_DIST_HEARTBEAT_MS: "soon" } }).catch((e: Error) => e.message);
    expect(badEnv).toMatch(/REPRISE_DIST_HEARTBEAT_MS/);
  });
});
