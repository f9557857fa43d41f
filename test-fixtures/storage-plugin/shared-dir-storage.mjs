// A storage backend as a third party would write one, against @reprise/core's
// public API only: blobs as files in a shared directory (an NFS mount, say),
// written atomically. Used by test/e2e/storage-plugin.test.ts.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { blobName, ConfigError } from "@reprise/core";

class SharedDirStorage {
  kind = "shared-dir";

  constructor(settings) {
    const path = settings.options?.path;
    if (typeof path !== "string" || !path.startsWith("/")) throw new ConfigError("invalid shared-dir options", "path must be an absolute directory");
    this.root = path;
    this.location = path;
  }

  async read(kind, key) {
    try {
      return await readFile(join(this.root, blobName(kind, key)));
    } catch (err) {
      if (err.code === "ENOENT") return undefined;
      throw err;
    }
  }

  async write(kind, key, data) {
    const file = join(this.root, blobName(kind, key));
    await mkdir(dirname(file), { recursive: true });
    const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    await writeFile(temp, data);
    await rename(temp, file);
  }

  async remove(kind, key) {
    await unlink(join(this.root, blobName(kind, key))).catch(() => undefined);
  }

  async usage() {
    return { sizeBytes: 0, entries: 0, maxSizeBytes: 0 };
  }

  async clear() {
    await rm(join(this.root, "results"), { recursive: true, force: true });
    await rm(join(this.root, "manifests"), { recursive: true, force: true });
  }

  async close() {}
}

export default {
  name: "shared-dir-storage",
  apply(engine) {
    engine.hooks.createStorage.tap("shared-dir-storage", (settings) => (settings.kind === "shared-dir" ? new SharedDirStorage(settings) : undefined));
  },
};
