import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkExamples } from './check-example.ts';
import { decodeExampleSet, encodeExampleSet } from './codec.ts';
import type { ExampleTask } from './examples.ts';
import { arraySource } from './source.ts';

const digits: ExampleTask = {
  input: { shape: [2, 2], dtype: 'uint8' },
  target: { kind: 'class', numClasses: 3 },
};
const houses: ExampleTask = {
  input: { shape: [3], dtype: 'float32' },
  target: { kind: 'regression', shape: [1] },
};
const tags: ExampleTask = {
  input: { shape: [2], dtype: 'float32' },
  target: { kind: 'multilabel', numLabels: 2 },
};
const text: ExampleTask = {
  input: { shape: [3], dtype: 'int32' },
  target: { kind: 'sequence', vocabSize: 10 },
};

describe('checking examples', () => {
  it('keeps the good ones in the task dtypes and refuses each bad one with its code', () => {
    const { accepted, refused } = checkExamples(digits, [
      { x: [0, 1, 2, 255], y: 2 },
      { x: Uint8Array.of(9, 9, 9, 9), y: [1] },
      { x: [0, 1, 2], y: 0 },
      { x: [0, 1, 2, 256], y: 0 },
      { x: [0, 1, 2, 0.5], y: 0 },
      { x: [0, 1, 2, Number.NaN], y: 0 },
      { x: [0, 1, 2, 3], y: 3 },
      { x: [0, 1, 2, 3], y: -1 },
      { x: 'pixels', y: 0 },
      null,
      { x: [0, 1, 2, 3] },
    ]);
    expect(accepted).toHaveLength(2);
    expect(accepted[0]!.x).toEqual(Uint8Array.of(0, 1, 2, 255));
    expect(accepted[0]!.y).toEqual(Int32Array.of(2));
    expect(refused.map((r) => [r.index, r.code])).toEqual([
      [2, 'SHAPE_MISMATCH'],
      [3, 'OUT_OF_RANGE'],
      [4, 'OUT_OF_RANGE'],
      [5, 'NON_FINITE'],
      [6, 'BAD_LABEL'],
      [7, 'BAD_LABEL'],
      [8, 'BAD_EXAMPLE'],
      [9, 'BAD_EXAMPLE'],
      [10, 'BAD_EXAMPLE'],
    ]);
    expect(refused[0]!.message).toMatch(/"x" expected 4 values, got 3/);
    expect(refused[4]!.message).toMatch(/"y" expected a label in \[0, 2\], got 3/);
  });

  it('checks floats, flags and tokens by the target kind', () => {
    const float = checkExamples(houses, [
      { x: Float32Array.of(1.5, -2, 3e10), y: [0.25] },
      { x: [1, 2, Number.POSITIVE_INFINITY], y: 0 },
      { x: [1, 2, 1e39], y: 0 },
      { x: [1, 2, 3], y: [1, 2] },
    ]);
    expect(float.accepted).toHaveLength(1);
    expect(float.refused.map((r) => r.code)).toEqual(['NON_FINITE', 'OUT_OF_RANGE', 'SHAPE_MISMATCH']);
    const flags = checkExamples(tags, [
      { x: [0, 1], y: [1, 0] },
      { x: [0, 1], y: [1, 2] },
    ]);
    expect(flags.refused.map((r) => r.code)).toEqual(['BAD_LABEL']);
    expect(flags.accepted[0]!.y).toEqual(Uint8Array.of(1, 0));
    const tokens = checkExamples(text, [
      { x: [1, 2, 3], y: [2, 3, 4] },
      { x: [1, 2, 10], y: [2, 3, 4] },
      { x: [1, 2, 3], y: [2, 3, 10] },
    ]);
    expect(tokens.refused.map((r) => r.code)).toEqual(['OUT_OF_RANGE', 'BAD_LABEL']);
  });
});

describe('the example codec', () => {
  it('round-trips any example set of a task', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.array(fc.float({ noNaN: true }), { minLength: 3, maxLength: 3 }),
            fc.float({ noNaN: true }),
          ),
          { maxLength: 20 },
        ),
        (rows) => {
          const set = {
            count: rows.length,
            x: Float32Array.from(rows.flatMap((r) => r[0])),
            y: Float32Array.from(rows.map((r) => r[1])),
          };
          const back = decodeExampleSet(houses, encodeExampleSet(houses, set));
          expect(back).toEqual(set);
        },
      ),
    );
    // uint8 features pad to 4 bytes before int32 labels.
    const d = { count: 1, x: Uint8Array.of(1, 2, 3, 4), y: Int32Array.of(2) };
    expect(decodeExampleSet(digits, encodeExampleSet(digits, d))).toEqual(d);
    const odd = { count: 1, x: Uint8Array.of(1, 2, 3), y: Int32Array.of(2) };
    const three: ExampleTask = {
      input: { shape: [3], dtype: 'uint8' },
      target: { kind: 'class', numClasses: 3 },
    };
    expect(decodeExampleSet(three, encodeExampleSet(three, odd))).toEqual(odd);
  });

  it('refuses bytes that are cut, foreign or of another task', () => {
    const bytes = encodeExampleSet(houses, { count: 2, x: new Float32Array(6), y: new Float32Array(2) });
    expect(() => decodeExampleSet(houses, bytes.subarray(0, 10))).toThrow(
      expect.objectContaining({ code: 'BAD_FRAME' }),
    );
    expect(() => decodeExampleSet(houses, bytes.subarray(0, bytes.length - 4))).toThrow(
      expect.objectContaining({ code: 'BAD_FRAME' }),
    );
    const foreign = bytes.slice();
    foreign[0] = 0;
    expect(() => decodeExampleSet(houses, foreign)).toThrow(expect.objectContaining({ code: 'BAD_FRAME' }));
    expect(() => decodeExampleSet(tags, bytes)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    expect(() =>
      encodeExampleSet(houses, { count: 2, x: new Float32Array(5), y: new Float32Array(2) }),
    ).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
  });
});

describe('an in-memory batch source', () => {
  it('visits every example once per pass, in order or shuffled', async () => {
    const set = {
      count: 5,
      x: Float32Array.from({ length: 15 }, (_, i) => i),
      y: Float32Array.of(0, 1, 2, 3, 4),
    };
    const seen = async (shuffle: boolean): Promise<number[]> => {
      const ys: number[] = [];
      for await (const b of arraySource(houses, set, () => 0.5).batches(2, shuffle)) {
        expect(b.x.length).toBe(b.count * 3);
        for (let i = 0; i < b.count; i++) {
          expect(b.x[i * 3]).toBe(b.y[i]! * 3);
          ys.push(b.y[i]!);
        }
      }
      return ys;
    };
    expect(await seen(false)).toEqual([0, 1, 2, 3, 4]);
    expect((await seen(true)).sort()).toEqual([0, 1, 2, 3, 4]);
  });
});
