import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  contextIds,
  decodeText,
  encodeText,
  nextCharExamples,
  normalizeText,
  topChars,
  UNKNOWN_CHAR,
} from './next-char.ts';
import { topK } from './top-k.ts';

const coding = { alphabet: ' abc.', context: 3 };

describe('character coding', () => {
  it('maps the alphabet to ids 1.. and any other character to 0, after normalising', () => {
    expect(normalizeText('Ab\n\t C')).toBe('ab c');
    expect(normalizeText('Ab', false)).toBe('Ab');
    expect(Array.from(encodeText('Ab  c!', coding))).toEqual([2, 3, 1, 4, 0]);
    expect(decodeText([2, 3, 1, 4, 0, 99], coding)).toBe(`ab c${UNKNOWN_CHAR}${UNKNOWN_CHAR}`);
  });

  it('decodes what it encodes when every character is in the alphabet', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', 'c', '.', ' ')), (chars) => {
        const text = normalizeText(chars.join(''));
        return decodeText(encodeText(text, coding), coding) === text;
      }),
    );
  });

  it('gives the last context ids, padded on the left with 0', () => {
    expect(Array.from(contextIds('ab', coding))).toEqual([0, 2, 3]);
    expect(Array.from(contextIds('cab.', coding))).toEqual([2, 3, 5]);
    expect(Array.from(contextIds('', coding))).toEqual([0, 0, 0]);
  });
});

describe('next-character examples', () => {
  it('pairs each known character with the context before it', () => {
    const ex = nextCharExamples('abc a', coding);
    expect(ex.count).toBe(5);
    expect(Array.from(ex.y)).toEqual([2, 3, 4, 1, 2]);
    expect(Array.from(ex.x)).toEqual([0, 0, 0, 0, 0, 2, 0, 2, 3, 2, 3, 4, 3, 4, 1]);
  });

  it('predicts no unknown character but keeps it as context, and samples every stride-th position', () => {
    const ex = nextCharExamples('a!b', coding);
    expect(Array.from(ex.y)).toEqual([2, 3]);
    expect(Array.from(ex.x.subarray(3))).toEqual([0, 2, 0]);
    const strided = nextCharExamples('abcabc', coding, 2);
    expect(Array.from(strided.y)).toEqual([2, 4, 3]);
    expect(() => nextCharExamples('abc', coding, 0)).toThrow(/"stride" expected a positive integer/);
  });

  it('makes rows whose context is the text before the label', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', 'c', 'x')), (chars) => {
        const text = chars.join('');
        const ids = encodeText(text, coding);
        const ex = nextCharExamples(text, coding);
        let row = 0;
        for (let t = 0; t < ids.length; t++) {
          if (ids[t] === 0) continue;
          if (ex.y[row] !== ids[t]) return false;
          const want = contextIds(text.slice(0, t), coding);
          if (Array.from(ex.x.subarray(row * 3, row * 3 + 3)).join() !== Array.from(want).join())
            return false;
          row++;
        }
        return row === ex.count;
      }),
    );
  });
});

describe('top-k', () => {
  it('ranks the most probable first, ties by index, NaN last', () => {
    expect(topK([0.1, 0.5, 0.2, 0.5], 3)).toEqual([
      { index: 1, p: 0.5 },
      { index: 3, p: 0.5 },
      { index: 2, p: 0.2 },
    ]);
    expect(topK([Number.NaN, 0.1], 2).map((r) => r.index)).toEqual([1, 0]);
    expect(topK([0.3], 5)).toHaveLength(1);
    expect(topK([0.3], 0)).toEqual([]);
  });

  it('suggests characters, never id 0', () => {
    expect(topChars([0.9, 0.01, 0.05, 0.02, 0.01, 0.01], coding, 2)).toEqual([
      { char: 'a', p: 0.05 },
      { char: 'b', p: 0.02 },
    ]);
  });
});
