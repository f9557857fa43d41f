/**
 * Node flags a builder runs best with. Every job allocates a few megabytes
 * that die with it (its request, layout, result): with V8's default young
 * generation (16 MB semi-spaces on 64-bit) a busy builder runs a scavenge
 * every few jobs and promotes some of each job's objects to the old
 * generation, which later needs a full mark-compact. Larger semi-spaces let
 * a job's garbage die young. `local-farm` starts its builders with these;
 * a service sets them in NODE_OPTIONS (docs/dist-builder.md).
 */
export const BUILDER_NODE_FLAGS = ["--max-semi-space-size=64"];
