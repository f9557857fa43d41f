export * from "./json.js";
export * from "./listen.js";
