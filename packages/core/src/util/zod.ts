import { z } from "zod";

/**
 * Core's zod, set to check without generating code: by default zod writes a
 * parser for each object schema on its first parse (`new Function`) that V8
 * must then compile, ~10-25 ms for a plugin's parse result alone, paid again
 * by every fresh daemon and every Node client, while its own checks are as
 * fast a few calls later. Must run before any schema is built (zod reads the
 * setting then): schemas import `z` from here, never from "zod".
 */
z.config({ jitless: true });

export { z };
