/** @reprise/dist: the build farm's scheduler, builder and client plugin. */
export const DIST_PROTOCOL_VERSION = 1;
