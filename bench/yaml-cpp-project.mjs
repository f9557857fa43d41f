// yaml-cpp (Debian's source, fetched into .fixtures/ by scripts/fetch-fixture-sources.sh) as the benches build it:
// CMake, Release, the library and its contrib code, no tests or tools; a compiler launcher through CMake's
// *_COMPILER_LAUNCHER. Shared by bench/run.mjs (rebuild) and bench/farm.mjs (build --project=yaml-cpp).

/** cmake's configure command: the source tree `src` into `buildDir`, compiles run through `launcher` (argv, may be empty). */
export function yamlCppConfigure(src, buildDir, launcher = []) {
  const l = launcher.join(';');
  return ['cmake', '-S', src, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release',
    '-DYAML_CPP_BUILD_TESTS=OFF', '-DYAML_CPP_BUILD_TOOLS=OFF', '-DYAML_CPP_BUILD_CONTRIB=ON',
    ...(l ? [`-DCMAKE_C_COMPILER_LAUNCHER=${l}`, `-DCMAKE_CXX_COMPILER_LAUNCHER=${l}`] : [])];
}

export const yamlCppBuild = (buildDir, jobs) => ['cmake', '--build', buildDir, '-j', String(jobs)];
export const yamlCppClean = (buildDir) => ['cmake', '--build', buildDir, '--target', 'clean'];
