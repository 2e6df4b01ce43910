export { hashedBagOfWords, messageFeatures } from './bag-of-words.ts';
export type { Baseline, IdExamples } from './baselines.ts';
export { majorityBaseline, ngramBaselines } from './baselines.ts';
export { fnv1a32 } from './hash.ts';
export { htmlText, MAX_MESSAGE_CHARS, messageText } from './message.ts';
export type { CharCoding, CharSuggestion, NextCharExamples } from './next-char.ts';
export {
  contextIds,
  decodeText,
  encodeText,
  nextCharExamples,
  normalizeText,
  topChars,
  UNKNOWN_CHAR,
  UNKNOWN_ID,
} from './next-char.ts';
export { MAX_TOKEN_LENGTH, tokenize } from './tokenize.ts';
export type { Ranked } from './top-k.ts';
export { topK } from './top-k.ts';
