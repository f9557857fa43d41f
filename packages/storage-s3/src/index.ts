import type { ReprisePlugin } from "@reprise/core";
import { S3Storage } from "./s3-storage.js";

export { S3Storage } from "./s3-storage.js";
export { parseS3Options, type S3Options } from "./options.js";

/** Serves storage levels of kind "s3" (selected by `levels` or REPRISE_BUCKET). */
const plugin: ReprisePlugin = {
  name: "@reprise/storage-s3",
  apply(engine) {
    engine.hooks.createStorage.tap("@reprise/storage-s3", (settings) => (settings.kind === "s3" ? new S3Storage(settings) : undefined));
  },
};

export default plugin;
