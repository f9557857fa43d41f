import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import { PersistedTexts } from "../../src/hashing/persisted-texts.js";
import type { TextReading } from "../../src/hashing/text-digest.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-texts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const later = () => Date.now() + 10_000;

/** A reading that drops `//` comments, counting the files it reads; `lastingId` as a daemon's reading has it. */
function reading(lastingId: string | undefined, embeds = false): TextReading & { reads: number } {
  const r = {
    // Within a daemon the id tells readings apart (family and dialect); across daemons the lasting id does.
    id: `test\0${lastingId ?? "transient"}`,
    ...(lastingId !== undefined ? { lastingId } : {}),
    reads: 0,
    read(data: Buffer) {
      r.reads++;
      const text = data.toString("utf8");
      return text.includes("RAW") ? { text: null, embeds } : { text: Buffer.from(text.replace(/\/\/[^\n]*/g, "")), embeds };
    },
  };
  return r;
}

/** A daemon's file hashing over the cache root `root`: a fresh one per "daemon start". */
function daemon(root: string) {
  const store = new PersistedTexts(root);
  const hashes = new FileHashCache(1000, later);
  hashes.persistTexts(store);
  return { store, hashes };
}

describe("text digests across daemon restarts", () => {
  it("a fresh daemon takes a header's text digest from the cache directory, without reading it through the plugin", async () => {
    const root = join(dir, "cache-a");
    const header = join(dir, "a.h");
    writeFileSync(header, "int a; // a comment\n");
    const first = daemon(root);
    const r1 = reading("v1 gcc c");
    const text = (await first.hashes.digest(header, [], r1))?.text;
    expect(text?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(r1.reads).toBe(1);
    first.store.flush();
    expect(readFileSync(join(root, "text-digests.json"), "utf8")).toContain("reprise-texts-2");

    const second = daemon(root);
    const r2 = reading("v1 gcc c");
    expect((await second.hashes.digest(header, [], r2))?.text).toEqual(text);
    expect(r2.reads).toBe(0);
    // Another reading (another version, dialect or plugin) reads the file itself.
    const other = reading("v2 gcc c");
    expect((await second.hashes.digest(header, [], other))?.text?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(other.reads).toBe(1);
  });

  it("keyed by content: a header whose bytes changed is read again; no text and #embed are kept as they were", async () => {
    const root = join(dir, "cache-b");
    const header = join(dir, "b.h");
    writeFileSync(header, "int b;\n");
    const first = daemon(root);
    await first.hashes.digest(header, [], reading("v1"));
    const raw = join(dir, "raw.h");
    writeFileSync(raw, "RAW\n");
    expect((await first.hashes.digest(raw, [], reading("v1", true)))?.text).toEqual({ hash: undefined, embeds: true });
    first.store.flush();

    writeFileSync(header, "int b2;\n");
    const second = daemon(root);
    const r = reading("v1");
    expect((await second.hashes.digest(header, [], r))?.text?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.reads).toBe(1);
    const rawAgain = reading("v1");
    expect((await second.hashes.digest(raw, [], rawAgain))?.text).toEqual({ hash: undefined, embeds: true });
    expect(rawAgain.reads).toBe(0);
  });

  it("a reading without a lasting id is never kept; a damaged file is ignored", async () => {
    const root = join(dir, "cache-c");
    const header = join(dir, "c.h");
    writeFileSync(header, "int c;\n");
    const first = daemon(root);
    await first.hashes.digest(header, [], reading(undefined));
    first.store.flush();
    const second = daemon(root);
    const r = reading(undefined);
    await second.hashes.digest(header, [], r);
    expect(r.reads).toBe(1);

    await second.hashes.digest(header, [], reading("v1"));
    second.store.flush();
    const file = join(root, "text-digests.json");
    writeFileSync(file, readFileSync(file, "utf8").replace(/"-[0-9a-f]/, '"-x'));
    const third = daemon(root);
    const again = reading("v1");
    await third.hashes.digest(header, [], again);
    expect(again.reads).toBe(1);
  });
});
