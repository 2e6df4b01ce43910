/** Longest token kept: longer runs are encodings (base64, hashes), not words. */
export const MAX_TOKEN_LENGTH = 30;

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu;

/**
 * The words of a message: lower-cased runs of letters and digits (an apostrophe inside a word
 * is kept: "don't"), of 2 to {@link MAX_TOKEN_LENGTH} characters.
 */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const match of text.toLowerCase().matchAll(WORD)) {
    const word = match[0].replace('’', "'");
    if (word.length >= 2 && word.length <= MAX_TOKEN_LENGTH) out.push(word);
  }
  return out;
}
