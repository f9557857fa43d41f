import { gccOptionTable, optionSpec, type OptionEntries, type OptionSpec } from "@reprise/plugin-gcc";

const { flag, separate, joined, either } = optionSpec;
const unsupported = { notCacheable: "unsupported-option" } as const;
const pp = { preprocessorOnly: true } as const;
const inputFile = { inputFile: true } as const;
const joinedAndSeparate: OptionSpec = { arity: "joined-and-separate" };

/** Clang 14 driver options that GCC lacks or that clang treats differently. */
export const clangOptions: OptionEntries = {
  "-target": separate(),
  "--target=": joined(),
  "-Xclang": separate(),
  "-mllvm": separate(),
  "-Xarch_": joinedAndSeparate,
  "-arch": separate(),
  "-Xopenmp-target": separate(),
  "-Xopenmp-target=": joinedAndSeparate,
  "-Xcuda-fatbinary": separate(),
  "-Xcuda-ptxas": separate(),
  "--driver-mode=": joined(),
  "-gcc-toolchain": separate(),
  "--gcc-toolchain=": joined(),
  "-resource-dir": separate(),
  "-resource-dir=": joined(),
  "-fdebug-compilation-dir": separate(),
  "-cxx-isystem": either(pp),
  "-isystem-after": either(pp),
  "-iframework": either(pp),
  "-iframeworkwithsysroot": either(pp),
  "-iwithsysroot": either(pp),
  "-F": either(),
  "-ivfsoverlay": either(inputFile),

  // Files whose contents steer instrumentation.
  "-fprofile-list=": joined(inputFile),
  "-fxray-always-instrument=": joined(inputFile),
  "-fxray-never-instrument=": joined(inputFile),
  "-fxray-attr-list=": joined(inputFile),
  "-fsanitize-coverage-allowlist=": joined(inputFile),
  "-fsanitize-coverage-ignorelist=": joined(inputFile),
  "-fsanitize-system-ignorelist=": joined(inputFile),
  "-fprofile-remapping-file=": joined({ notCacheable: "profile-data" }),
  "-fthinlto-index=": joined(unsupported),

  // Modules and precompiled headers: outputs and inputs outside the dependency list.
  "-fmodules": joined(unsupported),
  "-fcxx-modules": flag(unsupported),
  "-fmodule-file=": joined(unsupported),
  "-fprebuilt-module-path=": joined(unsupported),
  "-include-pch": either(unsupported),
  "--precompile": flag(unsupported),
  "-emit-ast": flag(unsupported),

  // Extra files written next to the object, or no object at all.
  "--analyze": flag(unsupported),
  "--analyzer-output": separate(unsupported),
  "-Xanalyzer": separate(unsupported),
  "-MJ": either(unsupported),
  "-serialize-diagnostics": separate(unsupported),
  "--serialize-diagnostics": separate(unsupported),
  "-dependency-file": separate(unsupported),
  "-dependency-dot": separate(unsupported),
  "-ftime-trace": joined(unsupported),
  "-fsave-optimization-record": joined(unsupported),
  "-foptimization-record-file=": joined(unsupported),
  "-fproc-stat-report": joined(unsupported),
  "-save-stats": joined(unsupported),
  "--save-stats": joined(unsupported),
  "-index-store-path": separate(unsupported),
  "-ccc-": joined(unsupported),

  // Would otherwise read as `-o` with a joined file name.
  "-objcmt-": joined(unsupported),
  "-object": flag(),

  // Change how every other argument is read.
  "-working-directory": separate(unsupported),
  "-working-directory=": joined(unsupported),
  "--config": separate(unsupported),
  "--config=": joined(unsupported),
};

export const clangOptionTable = gccOptionTable.extend(clangOptions);
