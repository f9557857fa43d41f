import type { ReprisePlugin } from "@reprise/core";
import { WebdavStorage } from "./webdav-storage.js";

export { WebdavStorage } from "./webdav-storage.js";
export { parseWebdavOptions, type WebdavOptions } from "./options.js";

/** Serves storage levels of kind "webdav" (alias "http"), selected by `levels` or REPRISE_WEBDAV_ENDPOINT. */
const plugin: ReprisePlugin = {
  name: "@reprise/storage-webdav",
  apply(engine) {
    engine.hooks.createStorage.tap("@reprise/storage-webdav", (settings) =>
      settings.kind === "webdav" || settings.kind === "http" ? new WebdavStorage(settings) : undefined,
    );
  },
};

export default plugin;
