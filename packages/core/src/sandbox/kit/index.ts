/**
 * A kit for sandbox plugins (`@reprise/core/sandbox-kit`), used by the bwrap and
 * container sandboxes: the mount plan, reading outputs back safely, and
 * watching the size of what a job writes.
 */
export { planJobLayout, writableFor, type JobLayout, type LayoutOptions, type LayoutOutput, type MountOp, type WritableDir } from "./plan.js";
export { collectOutputs, diskUsage, finishJob, watchDiskUsage, type CollectedOutputs } from "./outputs.js";
export { removeSmallTree, smallTreeUsage, SMALL_TREE_ENTRIES } from "./small-trees.js";
export { InputTreeCache, type InputTreeLease } from "./input-tree-cache.js";
export { ToolchainView, type EntryKind } from "./toolchain-view.js";
export { LayoutError, SandboxError } from "./errors.js";
export { exitStatus, finishStreams, type KillReason, type StreamResult } from "./streams.js";
export { findProgram, processLimits, versionAtLeast } from "./host.js";
export { JobCgroup, planJobCgroups, type CgroupEvents, type JobCgroupLimits, type JobCgroupPlan } from "./cgroup.js";
export { errnoName, JobLauncher, LauncherLost, type LaunchEnd, type Launched, type LaunchRequest } from "./job-launcher.js";
export { nativeClientPath } from "../../client/native-client-path.js";
