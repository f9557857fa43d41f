/** @reprise/dist: the build farm's scheduler, builder and client plugin (docs/dist-design.md). */
export * from "./protocol/index.js";
export * from "./auth/index.js";
export * from "./platform.js";
export { FarmRequestError, farmJsonRequest, farmAgent, type FarmRequestOptions } from "./http/client.js";
export { HttpError, checkProtocolVersion, readJsonBody, parseMessage, sendJson, sendError } from "./http/json.js";
export { createFarmServer, listen, parseListen, serverUrl, type TlsFiles, type ListenAddress } from "./http/listen.js";
