/**
 * How a job's files are laid out in a sandbox, shared by the bwrap and
 * container sandboxes: the mount plan, reading outputs back safely, and
 * watching the size of what a job writes.
 */
export { planJobLayout, writableFor, type JobLayout, type LayoutOptions, type LayoutOutput, type MountOp, type WritableDir } from "./plan.js";
export { collectOutputs, diskUsage, watchDiskUsage, type CollectedOutputs } from "./outputs.js";
export { ToolchainView, type EntryKind } from "./toolchain-view.js";
export { LayoutError, SandboxError } from "./errors.js";
export { exitStatus, finishStreams, type KillReason, type StreamResult } from "./streams.js";
export { findProgram, processLimits, versionAtLeast } from "./host.js";
