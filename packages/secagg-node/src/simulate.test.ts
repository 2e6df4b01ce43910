import {
  chachaRandomBytes,
  NeighbourGraph,
  type SecAggCrypto,
  type SecAggDropouts,
  type SecAggParams,
  type SecAggSimulation,
  secAggParams,
  seededRng,
  shuffle,
  simulateSecAgg,
} from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { nativeSecAggCrypto } from './native-crypto.ts';

// The whole drop-out matrix, up to n = 200, on the coordinator's native primitives for every
// party: the protocol is the same state machines whatever the primitives, and native-crypto.test.ts
// proves they give @noble's bytes (fl-core's own simulate.test.ts runs a small cohort on @noble).
// On @noble, a round of 200 clients costs ~6,400 X25519 agreements at ~1 ms each.
// Every scenario replays the same clients (same seeds, so the same keys), so the same X25519
// calls recur; remembering their outputs keeps the suite fast. The functions are the real
// ones; only repeats of identical calls are served from memory.
const memory = new Map<string, Uint8Array>();
const remember =
  <A extends Uint8Array[]>(name: string, f: (...args: A) => Uint8Array) =>
  (...args: A): Uint8Array => {
    const key = `${name}/${args.map((arg) => Buffer.from(arg).toString('hex')).join('/')}`;
    let out = memory.get(key);
    if (!out) {
      out = f(...args);
      memory.set(key, out);
    }
    return out.slice();
  };
const crypto: SecAggCrypto = {
  keystream: nativeSecAggCrypto.keystream,
  x25519: remember('dh', nativeSecAggCrypto.x25519),
  x25519PublicKey: remember('pk', nativeSecAggCrypto.x25519PublicKey),
};
const NATIVE = { clients: crypto, server: crypto } as const;
const simulate = (options: Omit<SecAggSimulation, 'crypto'>): ReturnType<typeof simulateSecAgg> =>
  simulateSecAgg({ ...options, crypto: NATIVE });

const D = 64;
const STAGES = ['afterAdvertise', 'afterShare', 'afterMaskedInput', 'duringUnmask'] as const;
type Stage = (typeof STAGES)[number];

function seed32(...words: number[]): Uint8Array {
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  for (const [i, word] of words.entries()) view.setUint32(4 * i, word);
  return out;
}

/** A fixed cohort per n: every scenario replays the same clients, inputs and ring. */
function cohort(n: number): {
  inputs: Uint32Array[];
  randomBytes: (id: number) => ReturnType<typeof chachaRandomBytes>;
} {
  const rng = seededRng(n);
  const inputs = Array.from({ length: n }, () =>
    Uint32Array.from({ length: D }, () => (rng() * 2 ** 32) >>> 0),
  );
  return { inputs, randomBytes: (id) => chachaRandomBytes(seed32(n, id, 0xc11e)) };
}

function dropSet(n: number, rate: number, salt: number): number[] {
  const ids = Array.from({ length: n }, (_, i) => i);
  return shuffle(ids, seededRng(n * 1000 + salt)).slice(0, Math.round(rate * n));
}

function plainSum(inputs: readonly Uint32Array[], ids: Iterable<number>): Uint32Array {
  const sum = new Uint32Array(D);
  for (const id of ids) for (let i = 0; i < D; i++) sum[i] = sum[i]! + inputs[id]![i]!;
  return sum;
}

/**
 * The defaults throughout: k = 2 ceil(1.5 log2 n) (9, 18, 24 at n = 10, 50, 200) and
 * t = ceil(k/3) (3, 6, 8), which params.ts chose to survive 30% drop-outs. By the binomial
 * tail (union bound over clients) a random 30% drop set leaves some neighbourhood below t with
 * probability ~1%; the drop sets here come from fixed seeds, so every run sees the same ones.
 */
function paramsFor(n: number): SecAggParams {
  return secAggParams({ n, d: D, seed: seed32(n, 0x5eed) });
}

// Every stage at 10% and 30% for n = 10 and 50; at n = 200, the 30% the parameters are
// chosen to survive.
const cases = [10, 50, 200].flatMap((n) => [
  { n, rate: 0, stage: 'afterShare' as Stage },
  ...STAGES.flatMap((stage) => (n === 200 ? [0.3] : [0.1, 0.3]).map((rate) => ({ n, rate, stage }))),
]);

describe('simulateSecAgg: drop-outs at every stage (Bonawitz et al. 2017; Bell et al. 2020)', () => {
  it.each(cases)(
    'n = $n, $rate drop-outs $stage: the sum of the survivors, exactly',
    ({ n, rate, stage }) => {
      const { inputs, randomBytes } = cohort(n);
      const params = paramsFor(n);
      const dropped = dropSet(n, rate, STAGES.indexOf(stage));
      const dropouts: SecAggDropouts = { [stage]: dropped };
      const result = simulate({ params, inputs, randomBytes, dropouts });

      const gone =
        stage === 'afterAdvertise' || stage === 'afterShare' ? new Set(dropped) : new Set<number>();
      const survivors = inputs.map((_, id) => id).filter((id) => !gone.has(id));
      expect(result.contributors).toEqual(survivors);
      expect(result.dropped).toEqual(stage === 'afterShare' ? [...dropped].sort((a, b) => a - b) : []);
      expect(result.clientErrors.size).toBe(0);
      expect(result.sum).toEqual(plainSum(inputs, survivors));
    },
  );

  it('drop-outs at every stage of one round add up', () => {
    const n = 50;
    const { inputs, randomBytes } = cohort(n);
    const order = dropSet(n, 1, 99);
    const dropouts = {
      afterAdvertise: order.slice(0, 2),
      afterShare: order.slice(2, 4),
      afterMaskedInput: order.slice(4, 6),
      duringUnmask: order.slice(6, 8),
    };
    const result = simulate({ params: paramsFor(n), inputs, randomBytes, dropouts });
    const survivors = inputs.map((_, id) => id).filter((id) => !order.slice(0, 4).includes(id));
    expect(result.contributors).toEqual(survivors);
    expect(result.sum).toEqual(plainSum(inputs, survivors));
  });

  it('aborts, releasing nothing, when a drop-out leaves some secret with fewer than t holders', () => {
    const n = 50;
    const { inputs, randomBytes } = cohort(n);
    const params = paramsFor(n);
    const aborted = expect.objectContaining({ code: 'SECAGG_ABORTED' });
    // Detected at closeMaskedInput, before any share is requested.
    expect(() =>
      simulate({ params, inputs, randomBytes, dropouts: { afterShare: dropSet(n, 0.5, 7) } }),
    ).toThrow(aborted);
    // Detected at finish: the shares that did arrive cannot recover every secret.
    expect(() =>
      simulate({ params, inputs, randomBytes, dropouts: { duringUnmask: dropSet(n, 0.5, 8) } }),
    ).toThrow(aborted);
    expect(() =>
      simulate({ params, inputs, randomBytes, dropouts: { afterMaskedInput: dropSet(n, 0.5, 9) } }),
    ).toThrow(aborted);
  });

  it('leaves out, without aborting, a client whose neighbours mostly never shared', () => {
    const n = 50;
    const { inputs, randomBytes } = cohort(n);
    const params = paramsFor(n);
    const lonely = 17;
    const gone = NeighbourGraph.of(params)
      .neighbours(lonely)
      .slice(params.threshold - 1);
    const result = simulate({ params, inputs, randomBytes, dropouts: { afterAdvertise: gone } });
    // The lonely client, and any neighbour the gap leaves below t in turn, are left out.
    expect(result.contributors).not.toContain(lonely);
    expect(result.contributors.filter((id) => gone.includes(id))).toEqual([]);
    expect(result.contributors.length).toBeGreaterThanOrEqual(n - gone.length - 3);
    const survivors = result.contributors;
    expect(result.sum).toEqual(plainSum(inputs, survivors));
  });
});
