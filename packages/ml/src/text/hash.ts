const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const utf8 = new TextEncoder();

/**
 * FNV-1a, 32 bits, over the string's UTF-8 bytes (Fowler, Noll and Vo; the parameters of
 * draft-eastlake-fnv): the same bucket for a token on every device and on the coordinator.
 */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET;
  for (const byte of utf8.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}
