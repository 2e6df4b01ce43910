// atob/btoa are globals in browsers, workers and Node >= 16; this package's lib has no DOM types.
declare const atob: (data: string) => string;
declare const btoa: (data: string) => string;

/** Base64 (RFC 4648 section 4) to bytes, as initial weights travel inside a task's JSON. */
export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Bytes to base64, chunked so a large weight file does not overflow the argument list. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
