export { Scheduler, type SchedulerOptions, type AllocationOutcome } from "./scheduler.js";
export { chooseBuilder, type AllocationQuery, type Choice } from "./allocator.js";
export { BuilderRegistry, runningJobs, type BuilderEntry } from "./registry.js";
export { SchedulerConfigSchema, loadSchedulerConfig, type SchedulerConfig, type SchedulerConfigSources } from "./config.js";
export { startScheduler, type RunningScheduler } from "./start.js";
