import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";

/**
 * The same compile written to another -o (CMake builds the same sources for
 * a shared and a static library) is served from the first one's entry; the
 * dependency file's target is rewritten, wrapped as the compiler wraps it.
 */
let sb: RepriseSandbox;
let w: string;
const LONG = "a-directory-name-long-enough-to-move-every-line-break-of-the-rule";

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "proj");
  mkdirSync(join(w, "include/with-a-rather-long-name"), { recursive: true });
  writeFileSync(join(w, "include/with-a-rather-long-name/config.h"), "#define ANSWER 42\n");
  writeFileSync(join(w, "include/short.h"), "#define SHORT 1\n");
  writeFileSync(
    join(w, "lib.c"),
    '#include <stdio.h>\n#include <stdlib.h>\n#include "config.h"\n#include "short.h"\nint answer(void) { printf("%d\\n", ANSWER + SHORT); return rand(); }\n',
  );
});

afterAll(async () => {
  await sb.dispose();
});

/** Compiles plainly and through Reprise (outputs removed before each) and asserts the same bytes; returns whether Reprise hit. */
async function sameAsPlainWith(argv: string[], outputs: string[]): Promise<boolean> {
  const clean = () => outputs.forEach((f) => rmSync(join(w, f), { force: true }));
  for (const f of outputs) mkdirSync(dirname(join(w, f)), { recursive: true });
  clean();
  const ref = await plain(argv[0]!, argv.slice(1), w);
  expect(ref.exitCode, text(ref.stderr)).toBe(0);
  const want = outputs.map((f) => readFileSync(join(w, f)));
  clean();
  const before = await sb.stats();
  const got = await sb.run(argv, w);
  expect(got.exitCode, text(got.stderr)).toBe(0);
  const after = await sb.stats();
  outputs.forEach((f, i) => {
    const data = readFileSync(join(w, f));
    expect(data.equals(want[i]!), `${f} of \`${argv.join(" ")}\` is byte-identical to a plain compile (got:\n${f.endsWith(".d") ? data.toString() : "binary"})`).toBe(true);
  });
  return after.hitsDirect - before.hitsDirect === 1;
}

describe.each(["gcc", "clang"])("%s: another -o", (cc) => {
  const inc = ["-Iinclude/with-a-rather-long-name", "-Iinclude"];
  it("CMake's -MD -MT -MF: a static library's objects hit on the shared library's entries", async () => {
    const cmake = (dir: string) => {
      const obj = `${dir}/lib.c.o`;
      return { argv: [cc, ...inc, "-O2", "-g", "-MD", "-MT", obj, "-MF", `${obj}.d`, "-o", obj, "-c", join(w, "lib.c")], outputs: [obj, `${obj}.d`] };
    };
    const dirs = [`${cc}/CMakeFiles/uv.dir/src`, `${cc}/CMakeFiles/uv_a.dir/src`, `${cc}/CMakeFiles/${LONG}.dir/src`, `${cc}/o`];
    const hits: boolean[] = [];
    for (const dir of dirs) {
      const { argv, outputs } = cmake(dir);
      hits.push(await sameAsPlainWith(argv, outputs));
    }
    expect(hits).toEqual([false, true, true, true]);
  });

  it("-MD and -MMD with the default target (the -o path, quoted), with -MP", async () => {
    for (const mode of ["-MD", "-MMD"]) {
      const hits: boolean[] = [];
      for (const obj of [`${cc}${mode}/one/x.o`, `${cc}${mode}/${LONG}/${LONG}.o`, `${cc}${mode}/sp ace/y$.o`]) {
        const dep = obj.replace(/\.o$/, ".d");
        hits.push(await sameAsPlainWith([cc, ...inc, "-O1", mode, "-MP", "-c", "lib.c", "-o", obj], [obj, dep]));
      }
      expect(hits, mode).toEqual([false, true, true]);
    }
  });

  it("several -MT/-MQ targets are rewritten too", async () => {
    const hits: boolean[] = [];
    for (const t of ["a", `${LONG} ${LONG}`]) {
      const dep = `${cc}-targets/${t.length}.d`;
      hits.push(await sameAsPlainWith([cc, ...inc, "-O3", "-MD", "-MF", dep, "-MT", t, "-MQ", `q ${t}`, "-c", "lib.c", "-o", `${cc}-targets/${t.length}.o`], [dep, `${cc}-targets/${t.length}.o`]));
    }
    expect(hits).toEqual([false, true]);
  });

  it("split DWARF names the .dwo in the object: another -o does not share", async () => {
    const hits: boolean[] = [];
    for (const obj of [`${cc}-split/a/x.o`, `${cc}-split/b/x.o`]) {
      hits.push(await sameAsPlainWith([cc, ...inc, "-g", "-gsplit-dwarf", "-c", "lib.c", "-o", obj], [obj, obj.replace(/\.o$/, ".dwo")]));
    }
    expect(hits).toEqual([false, false]);
  });
});
