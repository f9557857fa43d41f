/**
 * FNV-1a, 64 bits, of a string's UTF-8 bytes, as 16 hex digits. Not for
 * security: names markers in the runtime directory that the native client
 * computes too (reprise-native.c has the same few lines).
 */
export function fnv1a64Hex(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, "utf8")) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}
