import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DEFAULT_STORAGE_TIMEOUTS, parseStorageOptions, storageTimeouts } from "../../src/storage/backend-options.js";
import { backendCall } from "../../src/storage/backend-call.js";
import { ConfigError, StorageBackendError } from "../../src/util/errors.js";

const schema = z
  .object({
    endpoint: z.string().min(1),
    keyPrefix: z.string().default(""),
    nested: z.object({ port: z.coerce.number().int().positive() }).optional(),
  })
  .strict();

describe("parseStorageOptions", () => {
  it("returns the schema's output, defaults and coercions applied", () => {
    const o = parseStorageOptions("kv", schema, { endpoint: "h:1", nested: { port: "80" } });
    expect(o).toEqual({ endpoint: "h:1", keyPrefix: "", nested: { port: 80 } });
  });

  it("checks missing options as an empty object", () => {
    expect(() => parseStorageOptions("kv", schema, undefined)).toThrow(ConfigError);
  });

  it("names the backend and the first problem's key path", () => {
    let err: unknown;
    try {
      parseStorageOptions("kv", schema, { endpoint: "h:1", nested: { port: "-3" } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/^invalid kv storage options: nested\.port: /);
    expect((err as ConfigError).reason).toMatch(/^nested\.port: /);
  });

  it("says `options` when the problem is the object itself (an unknown key)", () => {
    expect(() => parseStorageOptions("kv", schema, { endpoint: "h:1", bogus: 1 })).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/^invalid kv storage options: options: .*bogus/) }),
    );
  });
});

describe("storageTimeouts", () => {
  it("keeps the settings' own bounds and falls back to the config defaults", () => {
    expect(storageTimeouts({ timeouts: { connectMs: 5, requestMs: 7 } })).toEqual({ connectMs: 5, requestMs: 7 });
    expect(storageTimeouts({})).toEqual({ connectMs: 2_000, requestMs: 10_000 });
    expect(DEFAULT_STORAGE_TIMEOUTS).toEqual({ connectMs: 2_000, requestMs: 10_000 });
  });
});

describe("backendCall", () => {
  it("passes a result through", async () => {
    await expect(backendCall("kv h:1", async () => 42)).resolves.toBe(42);
  });

  it("turns any failure, thrown at once or rejected, into a StorageBackendError naming the backend", async () => {
    const rejected = backendCall("kv h:1", () => Promise.reject(new Error("ECONNREFUSED")));
    await expect(rejected).rejects.toBeInstanceOf(StorageBackendError);
    await expect(backendCall("kv h:1", () => Promise.reject(new Error("ECONNREFUSED")))).rejects.toThrow("kv h:1: ECONNREFUSED");
    await expect(
      backendCall("kv h:1", () => {
        throw new Error("bad key");
      }),
    ).rejects.toThrow("kv h:1: bad key");
  });
});
