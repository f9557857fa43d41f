// matchManifestByText: an entry matches when every recorded file has its recorded content or, where it
// recorded a text digest, that text; never an entry without texts, nor through a file that embeds another.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { directResultKey, matchManifestByText } from "../../src/engine/direct-mode.js";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import type { TextReading } from "../../src/hashing/text-digest.js";
import type { ManifestEntry } from "../../src/storage/codec.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-text-match-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Blanks `//` comments; a file holding "EMBED" brings in another file's bytes. */
const reading: TextReading = {
  id: "test\0c",
  read: (data) => (data.includes("EMBED") ? { text: null, embeds: true } : { text: Buffer.from(data.toString().replace(/\s*\/\/.*$/gm, "")) }),
};
const noTokens = () => false;

async function entryOf(files: string[], withText: boolean): Promise<ManifestEntry> {
  const hashes = new FileHashCache();
  const list: ManifestEntry["files"] = [];
  for (const path of files) {
    const d = (await hashes.digest(path, [], reading))!;
    list.push({ path, hash: d.hash, size: d.size, ...(withText && d.text?.hash ? { text: d.text.hash } : {}) });
  }
  return { files: list, resultKey: directResultKey("m".repeat(64), list, undefined) };
}

describe("matchManifestByText", () => {
  it("matches an entry whose header changed only in a comment, and names it; with the files' new content", async () => {
    const a = join(dir, "a.h");
    const b = join(dir, "b.h");
    writeFileSync(a, "int a; // one\n");
    writeFileSync(b, "int b;\n");
    const entry = await entryOf([a, b], true);
    writeFileSync(a, "int a; // two\n");
    const match = await matchManifestByText({ entries: [entry] }, new FileHashCache(), {}, reading, [], noTokens);
    expect(match?.entry).toBe(entry);
    expect(match?.changed).toEqual([a]);
    const now = (await new FileHashCache().digest(a))!.hash;
    expect(match?.files[0]).toMatchObject({ path: a, hash: now, text: entry.files[0]!.text });
    writeFileSync(a, "int a2; // two\n");
    expect(await matchManifestByText({ entries: [entry] }, new FileHashCache(), {}, reading, [], noTokens)).toBeUndefined();
  });

  it("passes over entries without texts, unchanged ones (a content match is not a text hit), refused tokens and embedding files", async () => {
    const c = join(dir, "c.h");
    writeFileSync(c, "int c; // one\n");
    const without = await entryOf([c], false);
    const unchanged = await entryOf([c], true);
    expect(await matchManifestByText({ entries: [without, unchanged] }, new FileHashCache(), {}, reading, [], noTokens)).toBeUndefined();
    writeFileSync(c, "int c; // __TIME__\n");
    expect(await matchManifestByText({ entries: [unchanged] }, new FileHashCache(), {}, reading, ["__TIME__"], (t) => t.includes("__TIME__"))).toBeUndefined();
    expect((await matchManifestByText({ entries: [unchanged] }, new FileHashCache(), {}, reading, [], noTokens))?.changed).toEqual([c]);
    writeFileSync(c, "int c; // EMBED\n");
    expect(await matchManifestByText({ entries: [unchanged] }, new FileHashCache(), {}, reading, [], noTokens)).toBeUndefined();
  });
});
