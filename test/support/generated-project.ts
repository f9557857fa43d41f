import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Writes a C/C++ project of `files` translation units that share headers, with
 * a Makefile (CC/CXX overridable) and a CMakeLists.txt. Deterministic.
 */
export function writeGeneratedProject(root: string, files: number): string[] {
  mkdirSync(join(root, "include/gen"), { recursive: true });
  mkdirSync(join(root, "src"), { recursive: true });
  writeFileSync(join(root, "include/gen/common.h"), "#pragma once\n#include <stddef.h>\n#define GEN_SCALE 3\nstatic inline int gen_scale(int x) { return x * GEN_SCALE; }\n");
  writeFileSync(join(root, "include/gen/cpp_common.hpp"), "#pragma once\n#include <vector>\n#include <string>\n#include <numeric>\ntemplate <class T> T gen_sum(const std::vector<T>& v) { return std::accumulate(v.begin(), v.end(), T{}); }\n");
  const objects: string[] = [];
  for (let i = 0; i < files; i++) {
    const cpp = i % 3 === 2;
    const name = `unit${i}.${cpp ? "cpp" : "c"}`;
    const body = cpp
      ? `#include "gen/cpp_common.hpp"\n#include "gen/common.h"\nint unit${i}() { std::vector<int> v{${i}, ${i + 1}, gen_scale(${i})}; return gen_sum(v) + (int)std::string("u${i}").size(); }\n`
      : `#include <stdio.h>\n#include "gen/common.h"\nint unit${i}(void) { static const char *where = __FILE__; return gen_scale(${i}) + (int)sizeof(where) + ${i} * __LINE__; }\n`;
    writeFileSync(join(root, "src", name), body);
    objects.push(`build/unit${i}.o`);
  }
  const rules = objects
    .map((o, i) => {
      const cpp = i % 3 === 2;
      return `${o}: src/unit${i}.${cpp ? "cpp" : "c"} | build\n\t$(${cpp ? "CXX" : "CC"}) $(CFLAGS) -Iinclude -MD -MF $@.d -c $< -o $@\n`;
    })
    .join("");
  writeFileSync(
    join(root, "Makefile"),
    `CC ?= gcc\nCXX ?= g++\nCFLAGS ?= -O2 -g\nall: ${objects.join(" ")}\nbuild:\n\tmkdir -p build\n${rules}clean:\n\trm -rf build\n`,
  );
  writeFileSync(
    join(root, "CMakeLists.txt"),
    `cmake_minimum_required(VERSION 3.13)\nproject(gen C CXX)\nadd_library(gen STATIC ${Array.from({ length: files }, (_, i) => `src/unit${i}.${i % 3 === 2 ? "cpp" : "c"}`).join(" ")})\ntarget_include_directories(gen PRIVATE include)\n`,
  );
  return objects;
}
