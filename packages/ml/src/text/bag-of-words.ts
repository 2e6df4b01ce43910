import type { TextFeatures } from '@pollen/fl-core';
import { fnv1a32 } from './hash.ts';
import { tokenize } from './tokenize.ts';

/**
 * A hashed bag of words (the "hashing trick", Weinberger et al. 2009): each token counts in
 * bucket FNV-1a(token) mod dims; a bucket holds log(1 + count) ('log1p', the default) or
 * count / tokens ('tf'). No vocabulary to ship or agree on: every device computes the same
 * features from the same text.
 */
export function hashedBagOfWords(tokens: readonly string[], features: TextFeatures): Float32Array {
  const out = new Float32Array(features.dims);
  for (const token of tokens) out[fnv1a32(token) % features.dims]! += 1;
  if ((features.weighting ?? 'log1p') === 'tf') {
    if (tokens.length > 0) for (let i = 0; i < out.length; i++) out[i]! /= tokens.length;
  } else {
    for (let i = 0; i < out.length; i++) out[i] = Math.log1p(out[i]!);
  }
  return out;
}

/** A message's features: its text tokenized, then hashed into a bag of words. */
export function messageFeatures(text: string, features: TextFeatures): Float32Array {
  return hashedBagOfWords(tokenize(text), features);
}
