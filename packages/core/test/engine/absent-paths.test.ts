import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { absentPaths, type AbsentInput, type AbsentPlan } from "../../src/engine/absent-paths.js";
import { AbsentMemo } from "../../src/engine/absent-memo.js";
import { forStore, sinceNsOf } from "../../src/engine/absent-plan.js";
import { guardsHold, stillAbsent } from "../../src/engine/absent-guards.js";
import { DirListings } from "../../src/engine/dir-listings.js";
import { quotedIncludes } from "../../src/engine/quoted-includes.js";
import { hashBytes } from "../../src/hashing/key-hasher.js";

let root: string;
const old = new Date(Date.now() - 60_000);

function file(rel: string, content = ""): string {
  const path = join(root, rel);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  utimesSync(path, old, old);
  return path;
}

/** Directories' mtimes set back (their ctimes stay recent: a guard's identity vouches only RACY_WINDOW_MS later). */
function ageDirs(...rels: string[]): void {
  for (const rel of rels) utimesSync(join(root, rel), old, old);
}

const RACY_WAIT_MS = 2100;

function input(over: Partial<AbsentInput>): AbsentInput {
  return {
    closure: [],
    source: join(root, "x.c"),
    cwd: root,
    search: { quote: [], angle: [], missing: [] },
    probed: [],
    probedQuoted: [],
    quoted: () => ({ names: [], computed: false }),
    args: [],
    since: Date.now(),
    ...over,
  };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "reprise-absent-"));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("absent-path guards", () => {
  it("guards the same name in earlier search directories and a missing subdirectory once, and fails once one appears", async () => {
    const found = file("b/sub/h.h");
    mkdirSync(join(root, "a"), { recursive: true });
    ageDirs("a", "b", "b/sub");
    await new Promise((r) => setTimeout(r, RACY_WAIT_MS));
    const plan = absentPaths(input({ closure: [join(root, "x.c"), found], search: { quote: [], angle: [join(root, "a"), join(root, "b")], missing: [] } }), new DirListings().session());
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.guards).toEqual([{ dir: join(root, "a"), id: expect.stringMatching(/^\d+:\d+:\d+:\d+$/), names: ["sub/"] }]);
    expect(guardsHold(plan.guards)).toBe(true);
    // A file elsewhere in a/ changes its identity: the names are checked, still absent, and the identity kept again.
    file("a/other.h");
    const before = plan.guards[0]!.id;
    expect(guardsHold(plan.guards)).toBe(true);
    // Changed just now: no identity is vouched for until the racy window has passed.
    expect(plan.guards[0]!.id).toBe("");
    await new Promise((r) => setTimeout(r, RACY_WAIT_MS));
    expect(guardsHold(plan.guards)).toBe(true);
    expect(plan.guards[0]!.id).toMatch(/^\d+:\d+:\d+:\d+$/);
    expect(plan.guards[0]!.id).not.toBe(before);
    // An empty a/sub/ is enough to void it ("sub/" stands for everything below).
    mkdirSync(join(root, "a/sub"));
    expect(guardsHold(plan.guards)).toBe(false);
  }, 30_000);

  it("a directory where a header name would be is passed over, a link is never vouched for", () => {
    mkdirSync(join(root, "d/h.h"), { recursive: true });
    expect(stillAbsent(join(root, "d/h.h"))).toBe(true);
    expect(stillAbsent(join(root, "d/h.h/"))).toBe(false);
    symlinkSync(join(root, "nowhere"), join(root, "d/dangling.h"));
    expect(stillAbsent(join(root, "d/dangling.h"))).toBe(false);
    expect(stillAbsent(join(root, "d/nothing.h"))).toBe(true);
    expect(stillAbsent(join(root, "x.c/through-a-file.h"))).toBe(true);
  });

  it("a quoted include is guarded in its includer's directory; an existing unrelated file there is not a reason to refuse", () => {
    const includer = file("q/inc/outer.h", '#include "h.h"\n#include <sys/types.h>\n');
    const found = file("q/b/h.h");
    file("q/inc/unrelated.h");
    ageDirs("q/inc", "q/b");
    const quoted = (f: string) => (f === includer ? { names: ["h.h"], computed: false } : { names: [], computed: false });
    const plan = absentPaths(input({ closure: [join(root, "x.c"), includer, found], quoted, search: { quote: [], angle: [join(root, "q/b")], missing: [] } }), new DirListings().session());
    expect(plan.ok && plan.guards.find((g) => g.dir === join(root, "q/inc"))?.names).toEqual(["h.h"]);
  });

  it("a directory changing as the build writes into it is not listed: each name is looked up, with the same guards", () => {
    const source = file("w/src/x.c");
    const closure = [source, file("w/b/h.h"), file("w/b/sub/s.h")];
    // Written just now: a/ has no identity that could vouch for a listing.
    file("w/a/x.o");
    const search = { quote: [], angle: [join(root, "w/a"), join(root, "w/b")], missing: [] };
    const plan = absentPaths(input({ closure, source, search }), new DirListings().session());
    expect(plan.ok && plan.guards.find((g) => g.dir === join(root, "w/a"))).toEqual({ dir: join(root, "w/a"), id: "", names: ["h.h", "sub/"] });
    writeFileSync(join(root, "w/a/h.h"), "");
    expect(absentPaths(input({ closure, source, search }), new DirListings().session())).toEqual({ ok: false, changed: join(root, "w/a/h.h") });
  });

  it("a changing directory asked about many names in one store is read once, with the same guards as a lookup per name", () => {
    const source = file("wm/src/x.c");
    // A header of the changing directory whose directive names a macro: every name of the closure is a candidate beside it.
    const lua = file("wm/src/lua.h");
    const headers = Array.from({ length: 20 }, (_, i) => file(`wm/inc/h${i}.h`));
    file("wm/inc/sub/s.h");
    headers.push(join(root, "wm/inc/sub/s.h"));
    file("wm/src/x.o"); // written just now: src/ has no identity
    ageDirs("wm/inc", "wm/inc/sub");
    const closure = [source, lua, ...headers];
    const search = { quote: [], angle: [join(root, "wm/inc")], missing: [] };
    const quoted = (f: string) => (f === lua ? { names: [], computed: true } : { names: [], computed: false });
    const session = new DirListings().session();
    const asked: (boolean | undefined)[] = [];
    const plan = absentPaths(input({ closure, source, search, quoted }), (dir) => {
      const l = session(dir);
      if (dir === join(root, "wm/src")) asked.push(l?.names !== undefined);
      return l;
    });
    // Each name looked up on its own: the changing directory never listed.
    const one = new DirListings().session();
    const perName = absentPaths(input({ closure, source, search, quoted }), (dir) => {
      const l = one(dir);
      return l && l.id === "" ? { id: "", names: undefined } : l;
    });
    expect(plan).toEqual(perName);
    expect(plan.ok && plan.guards.find((g) => g.dir === join(root, "wm/src"))).toEqual({ dir: join(root, "wm/src"), id: "", names: [...headers.map((h) => h.slice(join(root, "wm/inc/").length).replace(/\/.*/, "/"))].sort() });
    expect(asked.at(-1), "its names were read once it was asked about many").toBe(true);
    expect(asked.filter((x) => !x).length).toBeLessThan(20);
    // A candidate that appears there is still seen by the next store.
    writeFileSync(join(root, "wm/src/h3.h"), "");
    expect(absentPaths(input({ closure, source, search, quoted }), new DirListings().session())).toEqual({ ok: false, changed: join(root, "wm/src/h3.h") });
  });

  it("refuses to record when a candidate file appeared during the compile", () => {
    const found = file("r/b/h.h");
    const since = Date.now() - 10;
    writeFileSync(join(root, "r/a.h"), "");
    mkdirSync(join(root, "r/a"), { recursive: true });
    writeFileSync(join(root, "r/a/h.h"), "");
    const plan = absentPaths(input({ closure: [found], since, search: { quote: [], angle: [join(root, "r/a"), join(root, "r/b")], missing: [] } }), new DirListings().session());
    expect(plan).toEqual({ ok: false, changed: join(root, "r/a/h.h") });
  });

  it("a probe's name is looked for everywhere: found files are returned, absent places guarded", () => {
    const source = file("p/x.c");
    const probeHere = file("p/inc2/opt.h");
    mkdirSync(join(root, "p/inc1"), { recursive: true });
    const search = { quote: [], angle: [join(root, "p/inc1"), join(root, "p/inc2")], missing: [] };
    const angle = absentPaths(input({ closure: [source], source, probed: ["opt.h"], search }), new DirListings().session());
    expect(angle.ok && angle.probeFiles).toEqual([probeHere]);
    expect(angle.ok && angle.guards.map((g) => g.dir)).toEqual([join(root, "p/inc1")]);
    // Spelled with quotes, the name is looked for beside the probing file first.
    const quoted = absentPaths(input({ closure: [source], source, probed: ["opt.h"], probedQuoted: [{ file: source, name: "opt.h" }], search }), new DirListings().session());
    expect(quoted.ok && quoted.guards.map((g) => g.dir).sort()).toEqual([join(root, "p"), join(root, "p/inc1")].sort());
  });

  it("for a compile that ran elsewhere (seen): a file present here that it did not read refuses the plan unless it could see it, however old", () => {
    const source = file("s/x.c");
    const read = file("s/inc2/h.h");
    const shadowing = file("s/inc1/h.h");
    const probed = file("s/inc1/opt.h");
    const search = { quote: [], angle: [join(root, "s/inc1"), join(root, "s/inc2")], missing: [] };
    const closure = [source, read];
    // Here, a file older than the compile (its ctime too) that it did not read was not what its name found: the plan holds.
    expect(absentPaths(input({ closure, source, search, since: Date.now() + 10_000 }), new DirListings().session()).ok).toBe(true);
    const elsewhere = (seen: (p: string) => boolean, over: Partial<AbsentInput> = {}) => absentPaths(input({ closure, source, search, seen, since: Date.now() + 10_000, ...over }), new DirListings().session());
    expect(elsewhere(() => false)).toEqual({ ok: false, changed: shadowing });
    // The job carried it: it was there for the compile too. Reported, so that the next job carries it again.
    expect(elsewhere((p) => p === shadowing)).toMatchObject({ ok: true, unread: [shadowing] });
    // A probe answers there as here only when it could see what a probe finds here.
    expect(elsewhere((p) => p === shadowing, { probed: ["opt.h"] })).toEqual({ ok: false, changed: probed });
    expect(elsewhere((p) => p === shadowing || p === probed, { probed: ["opt.h"] }).ok).toBe(true);
  });

  it("the store's plan taken from a check's (forStore) is the plan the store works out: guards, probe files, refusal", () => {
    const source = file("f/x.c");
    const read = file("f/inc2/h.h");
    const shadowing = file("f/inc1/h.h");
    const probed = file("f/inc1/opt.h");
    mkdirSync(join(root, "f/inc0"), { recursive: true });
    const search = { quote: [], angle: [join(root, "f/inc0"), join(root, "f/inc1"), join(root, "f/inc2")], missing: [join(root, "f/gone")] };
    const closure = [source, read];
    for (const [since, over] of [
      [Date.now() + 10_000, {}],
      [Date.now() + 10_000, { probed: ["opt.h", "none.h"] }],
      // The compile began before those files last changed: the store refuses, and so does a plan taken from the check.
      [Date.now() - 120_000, {}],
      [Date.now() - 120_000, { probed: ["opt.h"] }],
    ] as const) {
      const store = absentPaths(input({ closure, source, search, since, ...over }), new DirListings().session());
      const checked = absentPaths(input({ closure, source, search, since: Date.now(), seen: () => true, ...over }), new DirListings().session());
      expect(checked.ok && checked.unread?.sort()).toEqual(over.probed ? [probed, shadowing].sort() : [shadowing]);
      const fromCheck = checked.ok ? forStore(checked, sinceNsOf(since)) : checked;
      expect(fromCheck).toEqual(store);
    }
  });

  it("reads quoted includes, and says when a directive names a macro", () => {
    const plainOne = file("qi/a.c", '#include "one.h"\n  #  include_next "two.h"\n#include <three.h>\n#import "four.h"\n');
    expect(quotedIncludes(plainOne, hashBytes(Buffer.from('#include "one.h"\n  #  include_next "two.h"\n#include <three.h>\n#import "four.h"\n')))).toEqual({
      names: ["one.h", "two.h", "four.h"],
      computed: false,
    });
    const computed = file("qi/b.c", "#define H <x.h>\n#include H\n");
    expect(quotedIncludes(computed, "any").computed).toBe(true);
  });
});

describe("absent-path guards remembered across stores", () => {
  /** The plan of `over` with `memo`, and the plan a store with nothing remembered makes at the same moment: they must agree. */
  function both(memo: AbsentMemo, over: Partial<AbsentInput>) {
    const withMemo = absentPaths(input(over), new DirListings().session(), memo);
    const fresh = absentPaths(input(over), new DirListings().session());
    const { adopted, ...plan } = withMemo as AbsentPlan & { adopted?: boolean };
    expect(plan, "a store reusing what earlier stores found plans as one that found everything again").toEqual(fresh.ok ? { ...fresh, adopted: undefined } : fresh);
    return { ...plan, adopted } as AbsentPlan & { adopted?: boolean };
  }

  it("reuses a closure's findings only while they hold: a header appearing in an earlier directory is seen, and its removal too", async () => {
    const found = file("m/b/h.h", '#include "near.h"\n');
    const other = file("m/b/other.h");
    const source = file("m/src/x.c");
    mkdirSync(join(root, "m/a"), { recursive: true });
    ageDirs("m/a", "m/b", "m/src");
    await new Promise((r) => setTimeout(r, RACY_WAIT_MS));
    const contents = new Map([[found, "h1"], [other, "o1"]]);
    const memo = new AbsentMemo();
    const search = { quote: [], angle: [join(root, "m/a"), join(root, "m/b")], missing: [join(root, "m/gone")] };
    const over = (since = Date.now()): Partial<AbsentInput> => ({
      closure: [source, found, other],
      source,
      search,
      since,
      hashOf: (f) => contents.get(f),
      quoted: (f) => (f === found ? { names: contents.get(found) === "h1" ? ["near.h"] : ["near.h", "later.h"], computed: false } : { names: [], computed: false }),
    });
    const first = both(memo, over());
    expect(first.ok && first.guards.find((g) => g.dir === join(root, "m/a"))?.names).toEqual(["h.h", "other.h"]);
    // The same headers again, from another source: the same plan.
    expect(both(memo, { ...over(), source: file("m/src/y.c"), closure: [join(root, "m/src/y.c"), found, other] }).adopted).toBe(true);
    // A header created in the earlier directory after the compile began: not recorded, though the same closure was planned before.
    writeFileSync(join(root, "m/a/h.h"), "");
    const since = Date.now() - 5000;
    expect(both(memo, over(since))).toEqual({ ok: false, changed: join(root, "m/a/h.h") });
    // There before the compile began (and not read: its name did not find it): no guard for it, where one was remembered.
    const later = both(memo, over(Date.now() + 60_000));
    expect(later.ok && later.guards.find((g) => g.dir === join(root, "m/a"))?.names).toEqual(["other.h"]);
    // Gone again: guarded again, under the directory's new identity once it has settled.
    rmSync(join(root, "m/a/h.h"));
    await new Promise((r) => setTimeout(r, RACY_WAIT_MS));
    const again = both(memo, over());
    const guardA = again.ok ? again.guards.find((g) => g.dir === join(root, "m/a")) : undefined;
    expect(guardA?.names).toEqual(["h.h", "other.h"]);
    expect(guardA?.id).not.toBe(first.ok ? first.guards.find((g) => g.dir === join(root, "m/a"))?.id : "");
    // The findings m/a/'s old identity vouched for were found again (both() compares with a store that found everything).
    expect(again.adopted).toBe(true);
    // A header's new content with another quoted name: its candidates are worked out again.
    contents.set(found, "h2");
    const changed = both(memo, over());
    expect(changed.ok && changed.guards.find((g) => g.dir === join(root, "m/b"))?.names).toEqual(["later.h", "near.h"]);
  }, 30_000);

  it("a present candidate reached through a link is looked at again at every store", async () => {
    const found = file("l/b/h.h");
    const source = file("l/x.c", "");
    mkdirSync(join(root, "l/a"), { recursive: true });
    const target = file("l/t/h.h");
    symlinkSync(target, join(root, "l/a/h.h"));
    ageDirs("l/a", "l/b");
    await new Promise((r) => setTimeout(r, RACY_WAIT_MS));
    const memo = new AbsentMemo();
    const over = (): Partial<AbsentInput> => ({ closure: [source, found], source, since: Date.now(), hashOf: () => "same", search: { quote: [], angle: [join(root, "l/a"), join(root, "l/b")], missing: [] } });
    expect(both(memo, over()).ok).toBe(true);
    // The link's target is replaced: its directory l/a/ shows nothing of it.
    rmSync(target);
    writeFileSync(target, "");
    expect(both(memo, over())).toEqual({ ok: false, changed: join(root, "l/a/h.h") });
  }, 30_000);
});
