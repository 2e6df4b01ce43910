import { describe, expect, it } from 'vitest';
import { decodeSecAggSum, encodeSecAggInput, layoutWords, type SecAggLayout } from './layout.ts';
import { fixedPointBits, roundNeighbourhood, validateSecureAggregation } from './settings.ts';

const code = (c: string): unknown => expect.objectContaining({ code: c });

function sum(vectors: Uint32Array[]): Uint32Array {
  const out = new Uint32Array(vectors[0]!.length);
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i] = out[i]! + v[i]!;
  return out;
}

describe('SecAgg layout', () => {
  it('round-trips a dense sum within the quantization step, with Delta c and clipping bits', () => {
    const layout: SecAggLayout = {
      dimension: 4,
      coordinates: null,
      control: true,
      clipBit: true,
      range: 1,
      bits: fixedPointBits(3),
    };
    expect(layoutWords(layout)).toBe(9);
    const deltas = [
      Float32Array.of(0.5, -0.25, 2, -3),
      Float32Array.of(-0.5, 0.125, 0.3, 0.1),
      Float32Array.of(0.1, 0.2, -0.7, 0.9),
    ];
    const inputs = deltas.map((delta, i) =>
      encodeSecAggInput(layout, {
        delta,
        controlDelta: Float32Array.of(i, -i, 0, 0.5),
        clipBit: i === 1 ? 0 : 1,
      }),
    );
    const out = decodeSecAggSum(layout, sum(inputs), 3);
    const clipped = [0.1, 0.075, 1 + 0.3 - 0.7, -1 + 0.1 + 0.9];
    const step = 1 / 2 ** (layout.bits - 1);
    for (let i = 0; i < 4; i++) expect(Math.abs(out.delta[i]! - clipped[i]!)).toBeLessThan(3 * step);
    expect(Array.from(out.controlDelta!, (v) => Math.round(v * 1000) / 1000)).toEqual([2, -2, 0, 1.5]);
    expect(out.clipBits).toBe(2);
  });

  it('FedNova: carries Delta_i / tau_i and tau_i after the clipping bit; the server gets their sums', () => {
    const layout: SecAggLayout = {
      dimension: 2,
      coordinates: null,
      control: false,
      clipBit: true,
      steps: true,
      range: 1,
      bits: fixedPointBits(2),
    };
    expect(layoutWords(layout)).toBe(4);
    const a = encodeSecAggInput(layout, { delta: Float32Array.of(0.5, -0.5), clipBit: 1, steps: 7 });
    const b = encodeSecAggInput(layout, { delta: Float32Array.of(0.25, 0.25), clipBit: 0, steps: 70 });
    const out = decodeSecAggSum(layout, sum([a, b]), 2);
    expect(out.clipBits).toBe(1);
    expect(out.steps).toBe(77);
    expect(out.delta[0]).toBeCloseTo(0.75, 3);
    expect(() => encodeSecAggInput(layout, { delta: Float32Array.of(0, 0), clipBit: 1 })).toThrow(/steps/);
    expect(() =>
      encodeSecAggInput({ ...layout, steps: false }, { delta: Float32Array.of(0, 0), clipBit: 1, steps: 3 }),
    ).toThrow(/does not use FedNova/);
  });

  it('sends values only on the shared coordinates and decodes them back in place', () => {
    const layout: SecAggLayout = {
      dimension: 6,
      coordinates: Uint32Array.of(1, 4),
      control: false,
      clipBit: false,
      range: 2,
      bits: 20,
    };
    expect(layoutWords(layout)).toBe(2);
    const a = encodeSecAggInput(layout, { delta: Float32Array.of(9, 0.5, 9, 9, -1, 9) });
    const b = encodeSecAggInput(layout, { delta: Float32Array.of(9, 0.25, 9, 9, 0.5, 9) });
    const out = decodeSecAggSum(layout, sum([a, b]), 2);
    expect(Array.from(out.delta, (v) => Math.round(v * 1e4) / 1e4)).toEqual([0, 0.75, 0, 0, -0.5, 0]);
    expect(out.controlDelta).toBeUndefined();
  });

  it('refuses parts that do not fit the layout', () => {
    const layout: SecAggLayout = {
      dimension: 3,
      coordinates: null,
      control: false,
      clipBit: true,
      range: 1,
      bits: 16,
    };
    expect(() => encodeSecAggInput(layout, { delta: new Float32Array(2), clipBit: 1 })).toThrow(
      code('SHAPE_MISMATCH'),
    );
    expect(() => encodeSecAggInput(layout, { delta: new Float32Array(3) })).toThrow(/clipBit/);
    expect(() =>
      encodeSecAggInput(layout, {
        delta: new Float32Array(3),
        clipBit: 0,
        controlDelta: new Float32Array(3),
      }),
    ).toThrow(/SCAFFOLD/);
    expect(() => decodeSecAggSum(layout, new Uint32Array(3), 1)).toThrow(code('SHAPE_MISMATCH'));
  });
});

describe('secure aggregation settings', () => {
  it('fills in defaults and takes k, t, range and stage deadlines', () => {
    expect(validateSecureAggregation(undefined, 3)).toBeNull();
    expect(validateSecureAggregation({ enabled: false }, 3)).toBeNull();
    expect(validateSecureAggregation(true, 3)).toEqual({ enabled: true, range: 1, stageMs: 10_000 });
    expect(validateSecureAggregation({ k: 8, threshold: 4, range: 0.5, stageMs: 500 }, 10)).toEqual({
      enabled: true,
      k: 8,
      threshold: 4,
      range: 0.5,
      stageMs: 500,
    });
  });

  it.each([
    [{ enabled: 'yes' }, 5, /enabled/],
    [{}, 2, /at least 3 clients/],
    [{ k: 5 }, 10, /even/],
    [{ k: 4, threshold: 5 }, 10, /threshold/],
    [{ threshold: 6 }, 5, /smallest cohort/],
    [{ range: 0 }, 5, /range/],
    [{ range: Number.NaN }, 5, /range/],
    [{ stageMs: 10 }, 5, /stageMs/],
    ['on', 5, /secureAggregation/],
  ])('refuses %o with minClients %d', (value, minClients, message) => {
    expect(() => validateSecureAggregation(value, minClients)).toThrow(message);
    expect(() => validateSecureAggregation(value, minClients)).toThrow(code('INVALID_TASK'));
  });

  it('sizes each round: k capped at n - 1, t at most k, bits so n values sum without overflow', () => {
    const settings = { enabled: true as const, range: 1, stageMs: 1000 };
    expect(roundNeighbourhood(settings, 8)).toEqual({ k: 7, threshold: 3 });
    expect(roundNeighbourhood(settings, 200)).toEqual({ k: 24, threshold: 8 });
    expect(roundNeighbourhood({ ...settings, k: 10, threshold: 4 }, 5)).toEqual({ k: 4, threshold: 4 });
    expect(() => roundNeighbourhood({ ...settings, threshold: 6 }, 5)).toThrow(/exceeds/);
    expect([1, 8, 300, 1000, 100_000].map(fixedPointBits)).toEqual([24, 24, 23, 22, 15]);
    for (const n of [3, 100, 1000, 65_536])
      expect(n * (2 ** (fixedPointBits(n) - 1) - 1)).toBeLessThan(2 ** 31);
  });
});
