import { describe, expect, it } from 'vitest';
import type { RoundSecAgg } from '../protocol.ts';
import { decodeSecAggSum, layoutWords } from './layout.ts';
import { secAggParams } from './params.ts';
import { chachaRandomBytes } from './random.ts';
import { SecAggServer } from './server.ts';
import { SecAggSession } from './session.ts';
import { fixedPointBits } from './settings.ts';
import { packKeys, packShares, unpackKeys, unpackReveal, unpackShares } from './wire.ts';

const code = (c: string): unknown => expect.objectContaining({ code: c });

/** As the coordinator sends it, with binary as browsers receive it (ArrayBuffer). */
function block(index: number, n: number, words: number, extra: Partial<RoundSecAgg> = {}): RoundSecAgg {
  return {
    index,
    n,
    k: n - 1,
    threshold: 2,
    seed: new Uint8Array(32).fill(5).buffer,
    range: 1,
    bits: fixedPointBits(n),
    control: false,
    clipBit: false,
    words,
    stageMs: 1000,
    ...extra,
  };
}

/** Serialise as Socket.io does for a browser: typed arrays become ArrayBuffers. */
function wire<T>(value: T): T {
  if (value instanceof Uint8Array) return value.slice().buffer as T;
  if (Array.isArray(value)) return value.map(wire) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wire(v)])) as T;
  }
  return value;
}

describe('SecAggSession over the wire', () => {
  it('runs a round on shared coordinates with the clipping bit; the server unmasks the sum', () => {
    const n = 4;
    const dimension = 6;
    const coordinates = Uint32Array.of(0, 2, 5);
    const extra = { coordinates: new Uint8Array(coordinates.buffer).slice().buffer, clipBit: true };
    const words = layoutWords({ dimension, coordinates, control: false, clipBit: true, range: 1, bits: 24 });
    const sessions = Array.from(
      { length: n },
      (_, i) =>
        new SecAggSession(
          't',
          1,
          block(i, n, words, extra),
          chachaRandomBytes(new Uint8Array(32).fill(i + 1)),
        ),
    );
    const server = new SecAggServer(
      secAggParams({ n, d: words, k: n - 1, threshold: 2, seed: new Uint8Array(32).fill(5) }),
    );
    for (const [i, s] of sessions.entries()) server.receiveAdvertise(i, s.advertise());
    for (const [i, m] of server.closeAdvertise()) {
      const shares = sessions[i]!.onKeys(wire({ taskId: 't', roundId: 1, ...packKeys(m) }));
      server.receiveShares(i, unpackShares(wire(shares) as unknown as Record<string, unknown>, n));
    }
    const deltas = sessions.map((_, i) =>
      Float32Array.from({ length: dimension }, (_, j) => 0.01 * (i + 1) * (j + 1)),
    );
    const report = {
      modelVersion: 0,
      numExamples: 1,
      backend: 'cpu' as const,
      metrics: { loss: 0, accuracy: 0 },
      trainMs: 0,
    };
    for (const [i, m] of server.closeShares()) {
      // The delivery first for some, the input first for others: both orders mask once.
      const first =
        i % 2 === 0
          ? sessions[i]!.offerDelivery(wire({ taskId: 't', roundId: 1, ...packShares(m.shares) }))
          : sessions[i]!.offerInput(dimension, { delta: deltas[i]!, clipBit: 1 }, report);
      expect(first).toBeNull();
      const masked =
        i % 2 === 0
          ? sessions[i]!.offerInput(dimension, { delta: deltas[i]!, clipBit: 1 }, report)
          : sessions[i]!.offerDelivery(wire({ taskId: 't', roundId: 1, ...packShares(m.shares) }));
      expect(masked).toMatchObject({ taskId: 't', roundId: 1, modelVersion: 0 });
      server.receiveMaskedInput(i, { masked: new Uint8Array((masked!.masked as Uint8Array).slice()) });
    }
    for (const [i, m] of server.closeMaskedInput()) {
      const reveal = sessions[i]!.onRequest(wire({ taskId: 't', roundId: 1, ...m }));
      server.receiveUnmask(i, unpackReveal(wire(reveal) as unknown as Record<string, unknown>, n));
    }
    const { sum, contributors } = server.finish();
    const layout = { dimension, coordinates, control: false, clipBit: true, range: 1, bits: 24 };
    const out = decodeSecAggSum(layout, sum, contributors.length);
    expect(out.clipBits).toBe(4);
    for (let j = 0; j < dimension; j++) {
      const expected = [0, 2, 5].includes(j) ? 0.01 * 10 * (j + 1) : 0;
      expect(out.delta[j]).toBeCloseTo(expected, 5);
    }
  });

  it('refuses a block or an update that does not fit, and repeated steps', () => {
    const random = chachaRandomBytes(new Uint8Array(32));
    expect(() => new SecAggSession('t', 1, { ...block(0, 4, 6), n: 2 }, random)).toThrow(
      code('INVALID_MESSAGE'),
    );
    expect(() => new SecAggSession('t', 1, { ...block(0, 4, 6), index: 4 }, random)).toThrow(
      code('INVALID_MESSAGE'),
    );
    const odd = { ...block(0, 4, 6), coordinates: new Uint8Array(5).buffer };
    expect(() => new SecAggSession('t', 1, odd, random)).toThrow(code('INVALID_MESSAGE'));
    const session = new SecAggSession('t', 1, block(0, 4, 6), random);
    const report = {
      modelVersion: 0,
      numExamples: 1,
      backend: 'cpu' as const,
      metrics: { loss: 0, accuracy: 0 },
      trainMs: 0,
    };
    expect(() => session.offerInput(7, { delta: new Float32Array(7) }, report)).toThrow(
      code('SHAPE_MISMATCH'),
    );
    session.offerInput(6, { delta: new Float32Array(6) }, report);
    expect(() => session.offerInput(6, { delta: new Float32Array(6) }, report)).toThrow(code('REPLAY'));
  });

  it('unpacks only well-framed wire messages', () => {
    expect(() => unpackKeys({ neighbours: [1, 2], keys: new Uint8Array(64) }, 4)).toThrow(
      code('INVALID_MESSAGE'),
    );
    expect(() => unpackKeys({ neighbours: [1, 2, 3, 4, 5], keys: new Uint8Array(320) }, 4)).toThrow(
      /at most 4/,
    );
    expect(() => unpackShares({ peers: [1], ciphertexts: 'x' }, 4)).toThrow(/binary/);
    expect(() => unpackReveal({ selfMaskPeers: [1], keyPeers: [2], shares: new Uint8Array(33) }, 4)).toThrow(
      /66 bytes/,
    );
    const keys = unpackKeys({ neighbours: [1], keys: new Uint8Array(64).fill(7) }, 4);
    expect(keys.neighbours).toEqual([
      { id: 1, cPk: new Uint8Array(32).fill(7), sPk: new Uint8Array(32).fill(7) },
    ]);
  });
});
