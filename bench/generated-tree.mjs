// A generated C/C++ project for the rebuild scenario: `units` translation
// units (three C files for every C++ one) sharing a few project headers and the
// usual system headers, with a Makefile (CC/CXX overridable) whose objects
// also write dependency files, as real projects do. Deterministic: the same
// arguments write the same bytes. `heavyLines` adds to every C unit a function of that
// many arithmetic lines, which -O2 takes about a second per 1500 lines to compile: units
// that are CPU-bound rather than spawn-bound (bench/farm.mjs --project=generated-heavy).
import fs from 'node:fs';
import path from 'node:path';

export function writeGeneratedTree(root, units = 200, { heavyLines = 0 } = {}) {
  fs.mkdirSync(path.join(root, 'include/gen'), { recursive: true });
  fs.mkdirSync(path.join(root, 'src'), { recursive: true });
  const w = (rel, text) => fs.writeFileSync(path.join(root, rel), text);
  w('include/gen/config.h', '#pragma once\n#define GEN_SCALE 3\n#define GEN_NAME "generated"\n');
  w('include/gen/util.h', '#pragma once\n#include <stddef.h>\n#include <string.h>\n#include "gen/config.h"\n'
    + 'static inline int gen_scale(int x) { return x * GEN_SCALE; }\n'
    + 'static inline size_t gen_len(const char *s) { return strlen(s) + sizeof(GEN_NAME); }\n');
  w('include/gen/table.hpp', '#pragma once\n#include <map>\n#include <string>\n#include <vector>\n#include <algorithm>\n#include "gen/config.h"\n'
    + 'namespace gen {\ntemplate <class T> struct Table {\n  std::map<std::string, std::vector<T>> rows;\n'
    + '  void add(const std::string& k, T v) { rows[k].push_back(v); }\n'
    + '  T total() const { T s{}; for (auto& [k, v] : rows) for (auto x : v) s += x * GEN_SCALE; return s; }\n'
    + '  std::vector<std::string> keys() const { std::vector<std::string> out; for (auto& r : rows) out.push_back(r.first); std::sort(out.begin(), out.end()); return out; }\n'
    + '};\n}\n');
  const objects = [];
  const rules = [];
  for (let i = 0; i < units; i++) {
    const cpp = i % 4 === 3;
    const src = `src/unit${i}.${cpp ? 'cpp' : 'c'}`;
    w(src, cpp
      ? `#include "gen/table.hpp"\nint unit${i}() {\n  gen::Table<int> t;\n  for (int k = 0; k < ${i % 7 + 3}; ++k) t.add("k" + std::to_string(k), k * ${i});\n`
        + `  std::string all; for (auto& k : t.keys()) all += k;\n  return t.total() + (int)all.size();\n}\n`
      : `#include <stdio.h>\n#include <stdlib.h>\n#include "gen/util.h"\n`
        + `int unit${i}(const char *arg) {\n  char buf[64];\n  snprintf(buf, sizeof buf, "%s-%d", arg, gen_scale(${i}));\n`
        + `  int n = (int)gen_len(buf);\n  for (int k = 0; k < ${i % 5 + 2}; ++k) n += abs(k - ${i});\n  return n + __LINE__;\n}\n`
        + (heavyLines ? [`int unit${i}_work(int x) {`, ...Array.from({ length: heavyLines }, (_, k) => `  x = x * ${(k + i) % 7 + 3} + (x >> ${k % 5 + 1}) ^ ${k};`), '  return x;\n}\n'].join('\n') : ''));
    const obj = `build/unit${i}.o`;
    objects.push(obj);
    rules.push(`${obj}: ${src} | build\n\t$(${cpp ? 'CXX' : 'CC'}) $(${cpp ? 'CXXFLAGS' : 'CFLAGS'}) -Iinclude -MMD -MP -c $< -o $@\n`);
  }
  w('Makefile', 'CC = gcc\nCXX = g++\nCFLAGS = -O2 -g -Wall\nCXXFLAGS = -O2 -g -Wall -std=c++17\n'
    + `all: ${objects.join(' ')}\nbuild:\n\tmkdir -p build\n${rules.join('')}clean:\n\trm -rf build\n-include $(wildcard build/*.d)\n`);
  return root;
}
