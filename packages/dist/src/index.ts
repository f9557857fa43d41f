/** @reprise/dist: the build farm's scheduler, builder and client plugin (docs/dist-design.md). */
export * from "./protocol/index.js";
export * from "./auth/index.js";
export * from "./platform.js";
