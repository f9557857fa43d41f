export { Engine } from "./engine/engine.js";
export type { ReprisePlugin, PluginModule } from "./engine/plugin.js";
export { pluginRelease } from "./engine/plugin.js";
export type { EngineHooks, CompilerProbe, CompilerDetection, KeyContext, CallOutcome, AdaptOutputInput, DependencyListInput, CompileReads, ReadIdentity, TextDigestInput, TextDigestResult } from "./engine/hooks.js";
export type * from "./engine/types.js";
export { KeyHasher, hashBytes, HASH_ALGORITHM } from "./hashing/key-hasher.js";
export type { CacheStorage, StorageSettings, StorageUsage, StorageTimeouts, BlobKind, LevelStatsSnapshot } from "./storage/cache-storage.js";
export { blobName, directoryPrefix } from "./storage/blob-name.js";
export { parseStorageOptions, storageTimeouts, DEFAULT_STORAGE_TIMEOUTS, type StorageOptionsSchema, type StorageOptionsIssue } from "./storage/backend-options.js";
export { backendCall } from "./storage/backend-call.js";
export { Logger, parseLogLevel, type LogLevel } from "./util/logger.js";
export * from "./util/errors.js";
export { parseDepFile } from "./engine/dep-file.js";
export { findExecutable } from "./engine/find-executable.js";
export { FileHashCache, type FileDigest } from "./hashing/file-hash-cache.js";
export { REPRISE_VERSION } from "./version.js";
export { PROTOCOL_VERSION } from "./protocol/frames.js";
export type { Settings } from "./config/schema.js";
export { parseDepFileWithEnv, type DepFileContents } from "./engine/dep-file.js";
export type { ArchitectureQuery, DescriptorQuery, IncludeSearch, IncludeSearchOutput, ReadPredictionInput, PortableToolchain, PortableToolchainQuery, RunnerFiles } from "./engine/hooks.js";
export type * from "./toolchain/types.js";
export type * from "./sandbox/types.js";
export type { StatsSnapshot } from "./stats/stats.js";
export * from "./toolchain/index.js";
// The builder's side of a compile job, for hermetic mode today and the build farm later.
export { SandboxSelector, SandboxUnavailableError, sandboxNames, type SandboxSelectorOptions } from "./sandbox/select-sandbox.js";
export { identitiesFromList } from "./engine/listed-dependencies.js";
export { PROBE_TOKEN } from "./hermetic/has-include.js";
export { BoundedMap } from "./util/bounded-map.js";
/** Small answers kept across daemons in the cache root (a checksummed JSON file): what plugins and the farm client would otherwise work out again. */
export { PersistedRecords, type PersistedRecordsOptions } from "./util/persisted-records.js";
export { buildJob, DEFAULT_LIMITS, DEP_FILE_ROLE, jobEnvironment, jobRefusal, type BuildJobOptions, type ClosureSource, type JobPlan } from "./hermetic/build-job.js";
export { HermeticCompiler, type HermeticOutcome, type ToolchainProvider, type HermeticWorkspace, type HermeticCompilerOptions } from "./hermetic/hermetic-compiler.js";
export { InputStore, type InputStorePruneOptions } from "./hermetic/input-store.js";
// Where a miss is compiled (`compileMiss`): hermetic mode's tap, and what a farm client needs to build jobs and write outputs.
export type { ClosureCheck, ClosureCheckInput, CompiledInputs, MissContext, MissCompileResult, MissStats } from "./engine/hooks.js";
export { hermeticPlugin, HERMETIC_PLUGIN_NAME } from "./hermetic/hermetic-plugin.js";
export { runCompiler, type CompilerRun } from "./engine/run-compiler.js";
export { moveIntoPlace, tempBeside, writeOutputAtomically } from "./engine/write-output.js";
export type { DistSettings } from "./config/schema.js";
export type { RemoteCounters } from "./stats/stats.js";
/** Why a file lies where another user could have written it (undefined: trusted); plugins check files they load into compiles with it. */
export { untrustedLocationReason } from "./security/path-trust.js";
