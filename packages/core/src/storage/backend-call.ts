import { StorageBackendError } from "../util/errors.js";

/**
 * Runs one request of a remote backend; whatever it throws becomes a
 * `StorageBackendError` naming `backend` (e.g. the backend's `location`), which
 * the levels layer counts as that level's failure.
 */
export async function backendCall<T>(backend: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (err) {
    throw new StorageBackendError(backend, (err as Error).message);
  }
}
