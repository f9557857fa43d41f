import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeGeneratedProject } from "./generated-project.js";

/**
 * The generated C/C++ project, each source marked with `variant` (so a
 * project of another variant has new inputs for the farm), plus `slow`
 * translation units that each take about a second to compile at -O2 (so a
 * builder can be stopped while it runs one). Returns every object and dep file.
 */
export function writeFarmProject(root: string, files: number, variant: string, slow = 0): string[] {
  const objects = writeGeneratedProject(root, files);
  for (let i = 0; i < files; i++) {
    const src = join(root, "src", `unit${i}.${i % 3 === 2 ? "cpp" : "c"}`);
    // A declaration, not a comment: it survives preprocessing, so each variant is its own text (a comment would be served
    // through the preprocessed text's key, from another variant's entry).
    appendFileSync(src, `/* ${variant} */\nextern int variant_${variant.replace(/[^A-Za-z0-9_]/g, "_")};\n`);
  }
  let rules = "";
  for (let s = 0; s < slow; s++) {
    const lines = Array.from({ length: 1500 }, (_, i) => `  x = x * ${(i % 7) + 3} + (x >> ${(i % 5) + 1}) ^ ${i + s};`).join("\n");
    writeFileSync(join(root, "src", `slow${s}.c`), `/* ${variant} */\nint slow${s}(int x) {\n${lines}\n  return x;\n}\n`);
    objects.push(`build/slow${s}.o`);
    rules += `build/slow${s}.o: src/slow${s}.c | build\n\t$(CC) $(CFLAGS) -Iinclude -MD -MF $@.d -c $< -o $@\n`;
  }
  if (slow) {
    const makefile = readFileSync(join(root, "Makefile"), "utf8").replace(/^all: (.*)$/m, (_, list: string) => `all: ${list} ${objects.filter((o) => o.includes("slow")).join(" ")}`);
    writeFileSync(join(root, "Makefile"), makefile + rules);
  }
  return [...objects, ...objects.map((o) => `${o}.d`)];
}
