import { describe, expect, it } from 'vitest';
import { hashedBagOfWords, messageFeatures } from './bag-of-words.ts';
import { fnv1a32 } from './hash.ts';
import { tokenize } from './tokenize.ts';

describe('tokenize', () => {
  it('lower-cases words and numbers, keeps inner apostrophes, drops one-letter and over-long runs', () => {
    expect(tokenize("FREE money!!! Don't wait: call 0800-123 a b")).toEqual([
      'free',
      'money',
      "don't",
      'wait',
      'call',
      '0800',
      '123',
    ]);
    expect(tokenize('Ça coûte 5€ — naïve’s')).toEqual(['ça', 'coûte', "naïve's"]);
    expect(tokenize(`x ${'a'.repeat(31)} ${'b'.repeat(30)}`)).toEqual(['b'.repeat(30)]);
    expect(tokenize('')).toEqual([]);
  });
});

describe('a hashed bag of words', () => {
  const dims = 16;
  it('counts each token in its FNV-1a bucket, as log(1 + count)', () => {
    const v = hashedBagOfWords(['spam', 'spam', 'eggs'], { kind: 'hashed-bow', dims });
    const out = new Float32Array(dims);
    out[fnv1a32('spam') % dims]! += 2;
    out[fnv1a32('eggs') % dims]! += 1;
    expect(Array.from(v)).toEqual(Array.from(out, (c) => Math.fround(Math.log1p(c))));
  });

  it('divides counts by the tokens under tf weighting, and is all zeros for no tokens', () => {
    const v = hashedBagOfWords(['spam', 'spam', 'eggs', 'ham'], {
      kind: 'hashed-bow',
      dims,
      weighting: 'tf',
    });
    expect(v[fnv1a32('spam') % dims]).toBeGreaterThanOrEqual(0.5);
    expect(v.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(Array.from(hashedBagOfWords([], { kind: 'hashed-bow', dims, weighting: 'tf' }))).toEqual(
      new Array(dims).fill(0),
    );
  });

  it('makes the same features of a message on every call', () => {
    const f = { kind: 'hashed-bow', dims: 64 } as const;
    expect(messageFeatures('Cheap meds', f)).toEqual(hashedBagOfWords(['cheap', 'meds'], f));
  });
});
