import type { ReprisePlugin } from "../engine/plugin.js";
import { createLocalDiskStorage } from "./local-disk-storage.js";

/** The built-in "local" backend, registered through the same hook any storage plugin uses. */
export const localStoragePlugin: ReprisePlugin = {
  name: "reprise:local-storage",
  apply(engine) {
    engine.hooks.createStorage.tap("reprise:local-storage", (settings) =>
      settings.kind === "local" ? createLocalDiskStorage(settings) : undefined,
    );
  },
};
