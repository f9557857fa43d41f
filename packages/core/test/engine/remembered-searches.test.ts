import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Call } from "../../src/engine/call.js";
import { Engine } from "../../src/engine/engine.js";
import { IncludeSearches, rememberedSearches } from "../../src/engine/include-search.js";

let dir: string;
let asked: number;
let engine: Engine;

/** Reads gcc's `-E -v` list the way the gcc plugin does, in short: the real compiler is asked. */
function readSearch(stderr: string): { quote: string[]; angle: string[]; missing: string[] } | undefined {
  const lines = stderr.split("\n");
  const quoteAt = lines.indexOf('#include "..." search starts here:');
  const angleAt = lines.indexOf("#include <...> search starts here:");
  const endAt = lines.indexOf("End of search list.");
  if (quoteAt < 0 || angleAt < 0 || endAt < 0) return undefined;
  const dirs = (from: number, to: number) => lines.slice(from + 1, to).map((l) => l.trim());
  const missing = lines.filter((l) => l.startsWith("ignoring nonexistent directory ")).map((l) => l.slice('ignoring nonexistent directory "'.length, -1));
  return { quote: dirs(quoteAt, angleAt), angle: dirs(angleAt, endAt), missing };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reprise-searches-"));
  asked = 0;
  engine = new Engine().use({
    name: "test-gcc",
    apply(e) {
      e.hooks.includeSearch.for("gcc").tap("test-gcc", (output) => {
        asked++;
        return readSearch(output.stderr);
      });
    },
  });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function call(extra: string[] = []): Call {
  return {
    inv: { includeSearchArgv: ["/usr/bin/gcc", ...extra, "-E", "-v", "-x", "c", "/dev/null", "-o", "/dev/null"], keyEnv: [] },
    request: { cwd: dir, env: { PATH: "/usr/bin:/bin" } },
    compiler: { identity: "gcc-identity", family: "gcc" },
    project: { engine },
  } as unknown as Call;
}

/** A daemon's view: fresh memory, the records read from the cache directory. */
function daemon() {
  const records = rememberedSearches(join(dir, "cache"));
  return { searches: new IncludeSearches(records), records };
}

describe("include searches kept across daemon restarts", () => {
  it("a fresh daemon recalls the search of an option set instead of running the compiler", { timeout: 60_000 }, async () => {
    const first = daemon();
    const answer = await first.searches.for(call());
    expect("search" in answer && answer.search.angle).toContain("/usr/include");
    expect(asked).toBe(1);
    first.records.flush();

    const second = daemon();
    expect(await second.searches.for(call())).toEqual(answer);
    expect(asked).toBe(1);
    // Another option set is another search.
    await second.searches.for(call(["-I", "inc"]));
    expect(asked).toBe(2);
  });

  it("asks again once a directory the search named as missing exists", { timeout: 60_000 }, async () => {
    const first = daemon();
    const before = await first.searches.for(call(["-I", "later"]));
    expect("search" in before && before.search.missing).toContain("later");
    first.records.flush();

    mkdirSync(join(dir, "later"));
    const second = daemon();
    const after = await second.searches.for(call(["-I", "later"]));
    expect(asked).toBe(2);
    expect("search" in after && after.search.angle).toContain("later");

    // And again once a searched directory is gone.
    second.records.flush();
    rmSync(join(dir, "later"), { recursive: true });
    const third = await daemon().searches.for(call(["-I", "later"]));
    expect(asked).toBe(3);
    expect("search" in third && third.search.missing).toContain("later");
  });
});
