export * from "./job-token.js";
export * from "./access-token.js";
