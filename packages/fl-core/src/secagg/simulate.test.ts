import { describe, expect, it } from 'vitest';
import { seededRng, shuffle } from '../rng.ts';
import { secAggParams } from './params.ts';
import { chachaRandomBytes } from './random.ts';
import { simulateSecAgg } from './simulate.ts';

// A small cohort on the pure-JavaScript primitives browsers use. The whole drop-out matrix up
// to n = 200 runs on the coordinator's native primitives in @pollen/secagg-node, whose tests
// also prove both give the same bytes.
const N = 10;
const D = 16;

function seed32(...words: number[]): Uint8Array {
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  for (const [i, word] of words.entries()) view.setUint32(4 * i, word);
  return out;
}

describe('simulateSecAgg on @noble (Bonawitz et al. 2017; Bell et al. 2020)', () => {
  const rng = seededRng(7);
  const inputs = Array.from({ length: N }, () =>
    Uint32Array.from({ length: D }, () => (rng() * 2 ** 32) >>> 0),
  );
  const params = secAggParams({ n: N, d: D, seed: seed32(N, 0x5eed) });
  const randomBytes = (id: number): ReturnType<typeof chachaRandomBytes> =>
    chachaRandomBytes(seed32(N, id, 7));
  const sumOf = (ids: readonly number[]): Uint32Array => {
    const sum = new Uint32Array(D);
    for (const id of ids) for (let i = 0; i < D; i++) sum[i] = sum[i]! + inputs[id]![i]!;
    return sum;
  };

  it.each(['afterAdvertise', 'afterShare', 'afterMaskedInput', 'duringUnmask'] as const)(
    'three of ten gone %s: the sum of the survivors, exactly',
    (stage) => {
      const dropped = shuffle(
        Array.from({ length: N }, (_, i) => i),
        seededRng(stage.length),
      ).slice(0, 3);
      const result = simulateSecAgg({ params, inputs, randomBytes, dropouts: { [stage]: dropped } });
      const gone = stage === 'afterAdvertise' || stage === 'afterShare' ? dropped : [];
      const survivors = inputs.map((_, id) => id).filter((id) => !gone.includes(id));
      expect(result.contributors).toEqual(survivors);
      expect(result.clientErrors.size).toBe(0);
      expect(result.sum).toEqual(sumOf(survivors));
    },
  );
});
