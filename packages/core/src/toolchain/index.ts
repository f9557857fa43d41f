// Toolchains: finding, packing, checking and unpacking what makes a compiler runnable elsewhere.
export { readElf, parseElf, isElfMagic, elfPlatform, elfArch, elfOs, elfCompatible, multiarchTuples, ElfError, ET_EXEC, ET_DYN, DF_1_NODEFLIB, type ElfInfo } from "./elf.js";
export { LibraryResolver, readLdSoConf, readLdconfigCache, parseLdconfigOutput, globInRoot, type LibraryResolverOptions, type ProgramClosure, type MissingLibrary } from "./resolve-libraries.js";
export { walkPath, hostPath, joinPath, ancestors, PathLoopError, type PathWalk, type WalkedLink } from "./root-path.js";
export { collectToolchainEntries, collectToolchainFiles, localeFiles, programPlatforms, shebangInterpreter, sortEntries, type ToolchainFilesInput, type ToolchainFilesOptions, type CollectedToolchain } from "./collect-files.js";
export { ToolchainError, ToolchainArchiveError } from "./errors.js";
export {
  MANIFEST_NAME,
  DEFAULT_ARCHIVE_LIMITS,
  buildManifest,
  buildToolchainArchive,
  writeToolchainArchive,
  scanToolchainArchive,
  inspectToolchainArchive,
  readArchiveFile,
  type ArchiveLimits,
  type ArchiveEntry,
  type ArchiveEntryHandler,
  type BuiltArchive,
  type WrittenArchive,
  type ScannedArchive,
  type InspectedArchive,
} from "./toolchain-archive.js";
export { ToolchainStore, relativeLinkTarget, type ToolchainStoreOptions, type ToolchainLease, type ArchiveSource, type StoredToolchain } from "./toolchain-store.js";
export { ToolchainCache, type ToolchainCacheOptions, type PackagedToolchain } from "./toolchain-cache.js";
export { describeToolchain, buildCompilerToolchain, packageCompilerToolchain, type DescribedToolchain } from "./package.js";
export { createEngine, type EngineSetup, type CreateEngineOptions } from "./create-engine.js";
