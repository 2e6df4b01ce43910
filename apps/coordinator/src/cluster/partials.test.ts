import { PollenError } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { Round } from '../rounds/round.ts';
import { decodePartial, encodePartial } from './partials.ts';

const D = 5;
const update = (clientId: string, value: number, numExamples = 10) => ({
  clientId,
  delta: new Float32Array(D).fill(value),
  numExamples,
  backend: 'cpu' as const,
  metrics: { metrics: { loss: 1, accuracy: 0.5 }, trainMs: 1 },
  bytes: 4 * D,
});

function round(selected: string[], options: Partial<ConstructorParameters<typeof Round>[0]> = {}): Round {
  return new Round({
    taskId: 'tiny',
    roundId: 1,
    baseVersion: 0,
    dimension: D,
    selected,
    target: selected.length,
    deadlineMs: 60_000,
    ...options,
  });
}

describe("a node's partial of a round", () => {
  it('survives its binary encoding exactly, sums, controls and robust vectors alike', () => {
    const share = round(['a', 'b', 'c'], { scaffold: false });
    share.accept(update('a', 0.1, 7));
    share.accept(update('b', -0.3, 13));
    share.close('deadline');
    const partial = share.partial();
    expect([...partial.reported].sort()).toEqual(['a', 'b']);
    expect(partial.dropped).toEqual(['c']);
    const back = decodePartial(encodePartial(partial, D), D);
    expect(back).toEqual(partial);

    const robust = round(['x', 'y'], { robust: { kind: 'median' } });
    robust.accept(update('x', 1));
    const p2 = robust.partial();
    expect(p2.sum).toBeNull();
    expect(decodePartial(encodePartial(p2, D), D).updates![0]!.vector).toEqual(new Float32Array(D).fill(1));
  });

  it('refuses bytes that are not a partial of this dimension', () => {
    const bytes = encodePartial(round(['a']).partial(), D);
    const code = (fn: () => unknown): string => {
      try {
        fn();
        return 'ok';
      } catch (err) {
        return (err as PollenError).code;
      }
    };
    expect(code(() => decodePartial(bytes, D + 1))).toBe('BAD_FRAME');
    expect(code(() => decodePartial(Buffer.from('nonsense'), D))).toBe('BAD_FRAME');
    const full = round(['a']);
    full.accept(update('a', 1));
    const good = encodePartial(full.partial(), D);
    expect(code(() => decodePartial(good.subarray(0, good.length - 8), D))).toBe('BAD_FRAME');
  });

  it('adds up: the holder absorbing every share gets the mean one round over all updates gives', () => {
    const values: [string, number, number][] = [
      ['a', 0.5, 10],
      ['b', -0.25, 30],
      ['c', 1, 5],
      ['d', 0.125, 20],
    ];
    const alone = round(['a', 'b', 'c', 'd']);
    for (const [id, v, n] of values) alone.accept(update(id, v, n));
    const holder = round(['a', 'b', 'c', 'd']);
    holder.accept(update('a', 0.5, 10));
    const shareB = round(['b', 'c']);
    shareB.accept(update('b', -0.25, 30));
    shareB.accept(update('c', 1, 5));
    const shareC = round(['d']);
    shareC.accept(update('d', 0.125, 20));
    holder.absorb(decodePartial(encodePartial(shareB.partial(), D), D));
    expect(holder.isOpen).toBe(true);
    holder.absorb(decodePartial(encodePartial(shareC.partial(), D), D));
    expect(holder.reason).toBe('target-reached');
    expect(holder.record()).toMatchObject({ reported: 4, selected: 4, backends: { cpu: 4 } });
    const [x, y] = [holder.aggregate().delta, alone.aggregate().delta];
    for (let i = 0; i < D; i++) expect(x[i]).toBeCloseTo(y[i]!, 7);
  });

  it('refuses a partial naming clients the round cannot count, or arriving after it closed', () => {
    const holder = round(['a', 'b']);
    holder.accept(update('a', 1));
    const stray = round(['a', 'z']);
    stray.accept(update('a', 1));
    expect(() => holder.absorb(stray.partial())).toThrow(PollenError);
    expect(holder.reportedCount).toBe(1);
    holder.close('deadline');
    expect(() => holder.absorb(round(['b']).partial())).toThrow(/closed/);
  });
});
