import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { REPO_ROOT, type RepriseSandbox, plain, text } from "./reprise-env.js";

export interface TccWrapper {
  /** The plugin's name, and its file `<name>.mjs` in the project. */
  name: string;
  /** Module lines above the plugin (imports). */
  imports?: string;
  /** Statements run first in `apply(engine)`. */
  onApply?: string;
  /** The body of the parseArguments tap around the example tcc plugin's own: `input` and `fn` (its parser) are in scope. */
  parse: string;
  /** Link the repository's `@reprise/core` into the project's node_modules, as npm would install it. */
  linkCore?: boolean;
}

/**
 * A project in the sandbox whose config loads a third-party plugin wrapping
 * examples/plugin-tcc's parser; returns the project's directory (holding a.c).
 */
export function tccWrapperProject(sb: RepriseSandbox, w: TccWrapper): string {
  const proj = join(sb.root, "proj");
  mkdirSync(proj, { recursive: true });
  if (w.linkCore) {
    mkdirSync(join(proj, "node_modules", "@reprise"), { recursive: true });
    symlinkSync(join(REPO_ROOT, "packages/core"), join(proj, "node_modules", "@reprise", "core"));
  }
  writeFileSync(join(proj, "a.c"), "int a(void) { return 7; }\n");
  const example = join(REPO_ROOT, "examples/plugin-tcc/index.mjs");
  writeFileSync(
    join(proj, `${w.name}.mjs`),
    `import tcc from ${JSON.stringify(example)};
${w.imports ?? ""}
export default function () {
  const inner = tcc();
  return {
    name: ${JSON.stringify(w.name)},
    apply(engine) {
      ${w.onApply ?? ""}
      const parseArguments = { for: (f) => ({ tap: (n, fn) => engine.hooks.parseArguments.for(f).tap(n, (input) => {
        ${w.parse}
      }) }) };
      inner.apply({ hooks: { ...engine.hooks, parseArguments } });
    },
  };
}
`,
  );
  writeFileSync(join(proj, ".repriserc.json"), JSON.stringify({ plugins: [`./${w.name}.mjs`] }));
  return proj;
}

/** `reprise tcc -c a.c -o a.o` in `proj`: it succeeds, and its object is a plain tcc's byte for byte. Returns the call. */
export async function tccCompileLikePlain(sb: RepriseSandbox, proj: string, env: Record<string, string> = {}) {
  const r = await sb.run(["tcc", "-c", "a.c", "-o", "a.o"], proj, { env });
  expect(r.exitCode, text(r.stderr)).toBe(0);
  const got = readFileSync(join(proj, "a.o"));
  rmSync(join(proj, "a.o"));
  await plain("tcc", ["-c", "a.c", "-o", "a.o"], proj);
  expect(got.equals(readFileSync(join(proj, "a.o"))), "the object differs from a plain tcc's").toBe(true);
  return r;
}
