import { describe, expect, it } from 'vitest';
import { validateTaskSpec } from '../task.ts';
import { nextCharVocabSize, presentationOf } from './presentation.ts';
import { refusal } from './refusal.ts';

const training = { epochs: 1, batchSize: 16, learningRate: 0.01 };
const rounds = { cohortSize: 3, minReports: 2, deadlineMs: 30_000 };

const digits = {
  id: 'digits',
  name: 'Digits',
  model: { kind: 'mlp', hidden: [16] },
  input: { shape: [28, 28, 1], dtype: 'uint8' },
  target: { kind: 'class', numClasses: 10 },
  training,
  rounds,
};

const nextChar = {
  id: 'next-char',
  name: 'Next character',
  model: { topology: {} },
  input: { shape: [16], dtype: 'int32' },
  target: { kind: 'class', numClasses: 4 },
  presentation: { kind: 'next-char', alphabet: ' ab', context: 16 },
  training,
  rounds,
};

const spam = {
  id: 'spam',
  name: 'Spam',
  model: { kind: 'mlp', hidden: [16] },
  input: { shape: [256], dtype: 'float32' },
  target: { kind: 'class', numClasses: 2 },
  presentation: { kind: 'text-label', labels: ['ham', 'spam'], features: { kind: 'hashed-bow', dims: 256 } },
  training,
  rounds,
};

describe('a task presentation', () => {
  it('is kept as declared on each kind', () => {
    const image = { kind: 'image', width: 28, height: 28 };
    expect(validateTaskSpec({ ...digits, presentation: image }).presentation).toEqual(image);
    expect(validateTaskSpec(nextChar).presentation).toEqual(nextChar.presentation);
    expect(validateTaskSpec(spam).presentation).toEqual(spam.presentation);
    expect(validateTaskSpec({ ...digits, presentation: { kind: 'none' } }).presentation).toEqual({
      kind: 'none',
    });
    const sequence = { ...nextChar, target: { kind: 'sequence', vocabSize: 4 } };
    expect(validateTaskSpec(sequence).presentation).toEqual(nextChar.presentation);
  });

  it('defaults to a 28x28 canvas on the built-in MNIST data, else to none', () => {
    const mnist = validateTaskSpec({
      ...digits,
      data: { builtin: 'mnist', partition: { kind: 'iid' }, numShards: 4 },
    });
    expect(mnist.presentation).toBeUndefined();
    expect(presentationOf(mnist)).toEqual({ kind: 'image', width: 28, height: 28 });
    expect(presentationOf(validateTaskSpec(digits))).toEqual({ kind: 'none' });
    expect(presentationOf(validateTaskSpec(spam))).toEqual(spam.presentation);
  });

  it('counts the vocabulary as the alphabet plus one id for any other character', () => {
    expect(nextCharVocabSize({ kind: 'next-char', alphabet: ' ab', context: 4 })).toBe(4);
    expect(nextCharVocabSize({ kind: 'next-char', alphabet: 'é😀', context: 4 })).toBe(3);
  });

  it('is refused with a message naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [
        { ...digits, presentation: { kind: 'video' } },
        /"presentation.kind" expected one of image, next-char/,
      ],
      [{ ...digits, presentation: 'image' }, /"presentation"/],
      [
        { ...digits, presentation: { kind: 'image', width: 0, height: 28 } },
        /"presentation.width" expected integer in \[1, 1024\], got 0/,
      ],
      [
        { ...digits, presentation: { kind: 'image', width: 28.5, height: 28 } },
        /"presentation.width" expected integer/,
      ],
      [
        { ...digits, presentation: { kind: 'image', width: 32, height: 32 } },
        /image 32x32 is 1024 pixels, "input.shape" \[28, 28, 1\] holds 784/,
      ],
      [
        { ...digits, presentation: { kind: 'none', width: 3 } },
        /"presentation.width" expected no such field/,
      ],
      [{ ...nextChar, presentation: { ...nextChar.presentation, alphabet: '' } }, /"presentation.alphabet"/],
      [
        { ...nextChar, presentation: { ...nextChar.presentation, alphabet: 'aba' } },
        /"presentation.alphabet" lists "a" twice/,
      ],
      [
        { ...nextChar, presentation: { ...nextChar.presentation, context: 8 } },
        /"presentation.context" 8 must equal "input.shape" \[context\], got \[16\]/,
      ],
      [
        { ...nextChar, presentation: { ...nextChar.presentation, context: 0 } },
        /"presentation.context" expected integer in \[1, 1024\]/,
      ],
      [
        { ...nextChar, target: { kind: 'class', numClasses: 3 } },
        /makes 4 character ids .* the target has 3/,
      ],
      [
        { ...nextChar, target: { kind: 'regression', shape: [1] }, model: { kind: 'mlp', hidden: [4] } },
        /next-char needs a class or sequence target/,
      ],
      [
        { ...nextChar, input: { shape: [16], dtype: 'float32' } },
        /"input.dtype" of a next-char task holds character ids/,
      ],
      [
        { ...spam, presentation: { ...spam.presentation, labels: ['ham'] } },
        /"presentation.labels" expected array of 2\.\.100 items/,
      ],
      [
        { ...spam, presentation: { ...spam.presentation, labels: ['ham', 'spam', 'eggs'] } },
        /names 3 labels, the target has 2 classes/,
      ],
      [{ ...spam, presentation: { ...spam.presentation, labels: ['ham', 'ham'] } }, /lists a label twice/],
      [
        { ...spam, presentation: { ...spam.presentation, features: { kind: 'hashed-bow', dims: 128 } } },
        /"presentation.features.dims" 128 must equal/,
      ],
      [
        { ...spam, presentation: { ...spam.presentation, features: { kind: 'embedding', dims: 256 } } },
        /"presentation.features.kind" expected "hashed-bow"/,
      ],
      [
        {
          ...spam,
          presentation: {
            ...spam.presentation,
            features: { kind: 'hashed-bow', dims: 256, weighting: 'bm25' },
          },
        },
        /"presentation.features.weighting" expected one of log1p, tf/,
      ],
      [{ ...spam, target: { kind: 'multilabel', numLabels: 2 } }, /text-label needs a class target/],
    ];
    for (const [input, message] of cases) expect(refusal(input)).toMatch(message);
  });
});
