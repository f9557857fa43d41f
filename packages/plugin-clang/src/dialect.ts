import { LOADER_ENV, TIME_MARKERS, clangNativeResolver, clangRuleLayout, gccDialect, isNativeCpuOption, type GccLikeDialect } from "@reprise/plugin-gcc";

/** -m options that are not target features, so they cannot conflict with the features -march=native expands to. */
const NOT_FEATURES = /^-m(32|64|x32|cmodel=.*|fpmath=.*|stack-protector-guard.*)$/;
import { clangOptionTable } from "./option-table.js";

/** `-Xclang` values that make cc1 write or read files Reprise cannot see, or no object at all. */
const XCLANG_DENIED = [
  "-emit-",
  "-include-pch",
  "-include-pth",
  "-building-pch-with-obj",
  "-dependency-",
  "-header-include",
  "-module-",
  "-fmodule",
  "-load",
  "-plugin",
  "-add-plugin",
  "-ast-",
  "-print-",
  "-dump-",
  "-serialize-diagnostic",
  "-stats-file",
  "-coverage-",
  "-fprofile-",
  "-ftime-trace",
  "-opt-record-file",
  "-o",
];

/** `--driver-mode=` values that keep clang a gcc-like C-family compiler. */
const GCC_LIKE_MODES = new Set(["gcc", "g++"]);

export const clangDialect: GccLikeDialect = {
  table: clangOptionTable,
  rejectUnknownLongOptions: false,
  colorSetting(arg) {
    if (arg === "-fcolor-diagnostics") return true;
    if (arg === "-fno-color-diagnostics") return false;
    return gccDialect.colorSetting(arg);
  },
  forceColorArgs: ["-fcolor-diagnostics"],
  textKeyArgs: [],
  splitDwarfEnablesDebug: false,
  recordsCommandLine: (args) => {
    let on = false;
    for (const a of args) {
      if (a === "-frecord-command-line" || a === "-frecord-gcc-switches" || a === "-grecord-command-line" || a === "-grecord-gcc-switches") on = true;
      else if (a === "-fno-record-command-line" || a === "-fno-record-gcc-switches") on = false;
    }
    return on;
  },
  keyEnv() {
    return [
      "CPATH",
      "C_INCLUDE_PATH",
      "CPLUS_INCLUDE_PATH",
      "OBJC_INCLUDE_PATH",
      "OBJCPLUS_INCLUDE_PATH",
      "SOURCE_DATE_EPOCH",
      "LANG",
      "LC_ALL",
      "LC_CTYPE",
      "LC_MESSAGES",
      "COMPILER_PATH",
      // Rewrites the command line inside the driver.
      "CCC_OVERRIDE_OPTIONS",
      "SDKROOT",
      "MACOSX_DEPLOYMENT_TARGET",
      "IPHONEOS_DEPLOYMENT_TARGET",
    ];
  },
  timeMarkers(env, compiler) {
    // Clang reads SOURCE_DATE_EPOCH for all three macros from version 16 on; clang 14 ignores it.
    const major = Number.parseInt(compiler.version, 10);
    return env.SOURCE_DATE_EPOCH !== undefined && major >= 16 ? [] : [...TIME_MARKERS];
  },
  cxxDriver(compiler, args) {
    let cxx = compiler.data?.cxx === true;
    for (const a of args) if (a.kind === "option" && a.name === "--driver-mode=") cxx = a.value === "g++";
    return cxx;
  },
  rejectCall(args) {
    for (const a of args) {
      if (a.kind === "option" && a.name === "--driver-mode=" && !GCC_LIKE_MODES.has(a.value ?? "")) {
        return { reason: "unsupported-option", detail: `--driver-mode=${a.value}` };
      }
    }
    return undefined;
  },
  rejectOption(arg) {
    if (arg.name === "-Xclang" && XCLANG_DENIED.some((p) => arg.value?.startsWith(p))) {
      return { reason: "unsupported-option", detail: `-Xclang ${arg.value}` };
    }
    return undefined;
  },
  // PATH: an external assembler or gcc installation; COLUMNS: LLVM's diagnostics width; TERM, NO_COLOR: colors.
  jobEnv: { names: ["PATH", "COLUMNS", "TERM", "NO_COLOR"] },
  // -fplugin= and -fpass-plugin= load shared objects into clang; -Xclang -load/-plugin are not cached at all.
  codeLoadingOptions: ["-fplugin=", "-fpass-plugin=", "-load", "-add-plugin", "-plugin"],
  // CCC_OVERRIDE_OPTIONS rewrites the command line (it can add -fplugin=).
  codeLoadingEnv: [...LOADER_ENV, "COMPILER_PATH", "CCC_OVERRIDE_OPTIONS"],
  depRuleLayout: clangRuleLayout,
  compileListing: "dependency-dot",
  identityListing: "read-trace-in-driver",
  nativeCpu: {
    resolver: clangNativeResolver,
    unportable(args) {
      // The expanded features reach cc1 after the driver's own: a user's -mno-avx would no longer win over them.
      const other = args.find((a) => a.startsWith("-m") && !isNativeCpuOption(a) && !NOT_FEATURES.test(a) && !/^-m(arch|tune|cpu)=/.test(a));
      if (other && args.some((a) => a === "-march=native" || a === "-mcpu=native")) return `-march=native with ${other}: the expanded target features would override it`;
      if (args.includes("-grecord-command-line")) return "-grecord-command-line records -march=native itself in the debug info";
      return undefined;
    },
  },
};
