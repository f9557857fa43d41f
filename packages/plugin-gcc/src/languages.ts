import { extname } from "node:path";

/**
 * What Reprise does with a language:
 *  - "source": preprocessed and compiled (C, C++, Objective-C/C++, assembler-with-cpp).
 *  - "preprocessed": compiled without preprocessing (.i, .ii, .mi, .mii).
 *  - "header": compiled into a precompiled header (not cached).
 *  - "assembler": plain assembler (not cached: `.include`/`.incbin` read files no dependency list names).
 *  - "unsupported": any other language the driver knows (Fortran, Go, CUDA, ...).
 */
export type LanguageKind = "source" | "preprocessed" | "header" | "assembler" | "unsupported";

const KINDS: Readonly<Record<string, LanguageKind>> = {
  c: "source",
  "c++": "source",
  "objective-c": "source",
  "objective-c++": "source",
  "assembler-with-cpp": "source",
  "cpp-output": "preprocessed",
  "c-cpp-output": "preprocessed",
  "c++-cpp-output": "preprocessed",
  "objective-c-cpp-output": "preprocessed",
  "objc-cpp-output": "preprocessed",
  "objective-c++-cpp-output": "preprocessed",
  "objc++-cpp-output": "preprocessed",
  "c-header": "header",
  "c++-header": "header",
  "objective-c-header": "header",
  "objective-c++-header": "header",
  "c-header-cpp-output": "header",
  "c++-header-cpp-output": "header",
  "c++-system-header": "header",
  "c++-user-header": "header",
  assembler: "assembler",
};

export function languageKind(language: string): LanguageKind {
  return KINDS[language] ?? "unsupported";
}

/** GCC's suffix table (gcc.cc default_compilers); suffixes are case-sensitive. */
const BY_EXTENSION: Readonly<Record<string, string>> = {
  ".c": "c",
  ".i": "cpp-output",
  ".ii": "c++-cpp-output",
  ".m": "objective-c",
  ".mi": "objective-c-cpp-output",
  ".mm": "objective-c++",
  ".M": "objective-c++",
  ".mii": "objective-c++-cpp-output",
  ".cc": "c++",
  ".cp": "c++",
  ".cxx": "c++",
  ".cpp": "c++",
  ".CPP": "c++",
  ".c++": "c++",
  ".C": "c++",
  ".h": "c-header",
  ".hh": "c++-header",
  ".H": "c++-header",
  ".hp": "c++-header",
  ".hxx": "c++-header",
  ".hpp": "c++-header",
  ".HPP": "c++-header",
  ".h++": "c++-header",
  ".tcc": "c++-header",
  ".s": "assembler",
  ".S": "assembler-with-cpp",
  ".sx": "assembler-with-cpp",
};

/** Sources of languages Reprise does not cache, so that they are not mistaken for linker inputs. */
const OTHER_SOURCES = new Set(
  [
    ".f .for .ftn .fpp .F .FOR .FTN .FPP .f90 .f95 .f03 .f08 .F90 .F95 .F03 .F08", // Fortran
    ".go .d .di .dd .ads .adb .mod .def", // Go, D, Ada, Modula-2
    ".cu .hip .cl .clcpp .cppm .ccm .cxxm .c++m .ixx .ll .bc .ast .pcm .gch .pch .rs .ispc", // clang and friends
  ]
    .join(" ")
    .split(" "),
);

/** The C++ driver (g++, clang++) compiles C and C-family inputs as C++. */
const AS_CXX: Readonly<Record<string, string>> = {
  c: "c++",
  "cpp-output": "c++-cpp-output",
  "c-header": "c++-header",
};

/**
 * The language an input file is compiled as when no `-x` applies to it, or
 * undefined when the driver would hand it to the linker (objects, archives,
 * unknown suffixes).
 */
export function languageOfFile(path: string, cxxDriver: boolean): string | undefined {
  const ext = extname(path);
  const lang = BY_EXTENSION[ext];
  if (lang) return (cxxDriver && AS_CXX[lang]) || lang;
  if (OTHER_SOURCES.has(ext)) return `other (${ext})`;
  return undefined;
}
