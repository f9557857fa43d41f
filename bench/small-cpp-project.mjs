// test-fixtures/bench/small.cpp copied into a project folder under `tmp` (with a build/ folder), and the g++ command
// the job benches compile it with (-std=c++17 -O2 -g, ~160 inputs). Shared by build-job-cpu.mjs and build-job-cold-vs.mjs.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function smallCppProject(tmp) {
  const proj = join(tmp, 'proj');
  mkdirSync(join(proj, 'build'), { recursive: true });
  const src = join(proj, 'small.cpp');
  writeFileSync(src, readFileSync(join(REPO, 'test-fixtures/bench/small.cpp')));
  return { proj, src, base: ['/usr/bin/g++', '-std=c++17', '-O2', '-g', src] };
}
