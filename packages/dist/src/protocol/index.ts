export * from "./common.js";
export * from "./scheduler-messages.js";
