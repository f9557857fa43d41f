export { Engine } from "./engine/engine.js";
export type { ReprisePlugin, PluginModule } from "./engine/plugin.js";
export type { EngineHooks, CompilerProbe, CompilerDetection, KeyContext, CallOutcome } from "./engine/hooks.js";
export type * from "./engine/types.js";
export { KeyHasher, hashBytes, HASH_ALGORITHM } from "./hashing/key-hasher.js";
export type { CacheStorage, StorageSettings, StorageUsage, BlobKind } from "./storage/cache-storage.js";
export { Logger, parseLogLevel, type LogLevel } from "./util/logger.js";
export * from "./util/errors.js";
