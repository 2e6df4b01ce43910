import {
  bodyToDense,
  decodeFrame,
  decodeSortedIndices,
  encodeDense,
  encodeFrame,
  encodeSortedIndices,
  FRAME_HEADER_BYTES,
  quantize,
  sfc32,
} from '@pollen/compression';
import { type RoundStartMessage, specSize, toBytes } from '@pollen/fl-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NodeContributor,
  removeDir,
  startTestCoordinator,
  type TestCoordinator,
  waitFor,
} from '../testing/harness.ts';

let coordinator: TestCoordinator | undefined;
const sockets: NodeContributor[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await coordinator?.close();
  if (coordinator) removeDir(coordinator.dataDir);
  coordinator = undefined;
});

const rounds = (n: number, maxRounds: number) => ({
  cohortSize: n,
  minReports: 2,
  minClients: n,
  overSelection: 1,
  deadlineMs: 5000,
  maxRounds,
});

/** A client's delta: distinct per client and coordinate, so top-k picks different sets. */
function deltaOf(seed: number, d: number): Float32Array {
  const rng = sfc32(seed);
  return Float32Array.from({ length: d }, () => (rng() - 0.5) * 0.02);
}

/** The dense vector a frame stands for, as the coordinator decodes it. */
function denseOf(frame: Uint8Array, d: number): Float32Array {
  return bodyToDense(decodeFrame(frame, { dimension: d }).body);
}

describe('compressed uploads', () => {
  it('aggregates top-k 8-bit uploads exactly as their dense equivalents, keeping residuals, with bytes up far below dense', async () => {
    coordinator = await startTestCoordinator({
      rounds: rounds(3, 2),
      compression: { kind: 'topk', fraction: 0.05, bits: 8 },
    });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const clients = [1, 2, 3].map(
      (i) => new NodeContributor(coordinator!.url, `client-tk${i}`, () => deltaOf(i, d)),
    );
    sockets.push(...clients);
    for (const c of clients) expect((await c.hello()).ok).toBe(true);
    await waitFor(async () => (await coordinator!.store.getTask('tiny'))!.status === 'completed', 20_000);

    const msg = clients[0]!.rounds[0]!;
    expect(msg.compression).toMatchObject({ kind: 'topk', bits: 8, errorFeedback: true });
    const k = msg.compression!.k;
    expect(k).toBe(Math.round(0.05 * d));
    for (const c of clients) {
      expect(c.acks.every((a) => a.ok)).toBe(true);
      expect(c.residual).not.toBeNull();
    }
    // Each committed step is base + the example-weighted (equal) mean of what was sent.
    for (const version of [1, 2]) {
      const before = (await coordinator.store.getVersion('tiny', version - 1))!.weights;
      const after = (await coordinator.store.getVersion('tiny', version))!.weights;
      const sent = clients.map((c) => denseOf(c.sent[version - 1]!, d));
      for (let i = 0; i < d; i++) {
        const mean = (sent[0]![i]! + sent[1]![i]! + sent[2]![i]!) / 3;
        expect(after[i]).toBeCloseTo(before[i]! + mean, 6);
      }
    }
    const records = (await coordinator.store.listRounds('tiny')).filter((r) => r.status === 'committed');
    expect(records).toHaveLength(2);
    for (const r of records) {
      const frames = clients.map((c) => c.sent[r.roundId - records[0]!.roundId]!.byteLength);
      expect(r.bytesUp).toBe(frames.reduce((a, b) => a + b, 0));
      expect(r.bytesUp).toBeLessThan((3 * (FRAME_HEADER_BYTES + 4 * d)) / 10);
    }
  });

  it('refuses malformed, wrong-codec, out-of-range, unsorted, duplicate, NaN and oversized sparse frames with their codes while honest clients carry on', async () => {
    coordinator = await startTestCoordinator({
      rounds: rounds(12, 1),
      compression: { kind: 'topk', fraction: 0.1, bits: 32 },
    });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const honest = [1, 2].map(
      (i) => new NodeContributor(coordinator!.url, `client-ok${i}`, () => deltaOf(i, d)),
    );
    sockets.push(...honest);
    const k = Math.round(0.1 * d);
    const indices = Uint32Array.from({ length: k }, (_, j) => j * 2);
    const values = new Float32Array(k).fill(0.01);
    const good = encodeFrame({ kind: 'sparse', precision: 'f32', vector: { dimension: d, indices, values } });
    const valueBytes = 4 * k;
    // Indices travel as gaps between sorted coordinates, so an unsorted or repeated list cannot
    // be written; what a forger can write instead is a gap varint that is not canonical.
    const withIndexBytes = (patch: (gaps: Uint8Array) => void): Uint8Array => {
      const f = good.slice();
      patch(f.subarray(FRAME_HEADER_BYTES + valueBytes));
      return f;
    };
    const attacks: [string, () => Uint8Array][] = [
      ['BAD_FRAME', () => good.subarray(0, good.length - 3)], // truncated
      // A dense frame in a top-k round is refused on its size, before its codec is even read.
      ['PAYLOAD_TOO_LARGE', () => encodeDense(new Float32Array(d), 'f32')],
      ['BAD_FRAME', () => encodeDense(new Float32Array(k), 'f32')], // a small dense frame: wrong codec
      [
        'BAD_FRAME', // a quantized sparse frame where the round asked for float32 values
        () =>
          encodeFrame({
            kind: 'sparse-quantized',
            dimension: d,
            indices,
            quantized: quantize(values, 8, sfc32(1)),
          }),
      ],
      [
        'BAD_FRAME', // an index past the dimension: written for a larger model, then relabelled
        () => {
          const past = Uint32Array.from(indices);
          past[k - 1] = d + 5;
          const f = encodeFrame({
            kind: 'sparse',
            precision: 'f32',
            vector: { dimension: d + 10, indices: past, values },
          });
          new DataView(f.buffer).setUint32(8, d, true);
          return f;
        },
      ],
      [
        'BAD_FRAME', // a gap varint that is not canonical: an unsorted or duplicate list cannot be written
        () =>
          withIndexBytes((gaps) => {
            gaps[0] = 0x80;
          }),
      ],
      [
        'NON_FINITE',
        () => {
          const f = good.slice();
          new DataView(f.buffer).setFloat32(FRAME_HEADER_BYTES + 4, Number.NaN, true);
          return f;
        },
      ],
      [
        'PAYLOAD_TOO_LARGE', // more values than the round's k
        () =>
          encodeFrame({
            kind: 'sparse',
            precision: 'f32',
            vector: {
              dimension: d,
              indices: Uint32Array.from({ length: k + 1 }, (_, j) => j),
              values: new Float32Array(k + 1),
            },
          }),
      ],
      [
        'SHAPE_MISMATCH',
        () =>
          encodeFrame({
            kind: 'sparse',
            precision: 'f32',
            vector: { dimension: d + 1, indices, values },
          }),
      ],
      [
        'NORM_TOO_LARGE',
        () =>
          encodeFrame({
            kind: 'sparse',
            precision: 'f32',
            vector: { dimension: d, indices, values: new Float32Array(k).fill(1e6) },
          }),
      ],
    ];
    const seen: { expected: string; got: string }[] = [];
    const attackers = attacks.map(([expected, frame], i) => {
      const c = new NodeContributor(coordinator!.url, `client-bad${i}`);
      c.socket.on('round:start', async (msg) => {
        let bytes: Uint8Array;
        try {
          bytes = frame();
        } catch (err) {
          seen.push({ expected, got: `could not build: ${(err as Error).message}` });
          return;
        }
        const ack = await c.send(msg, bytes);
        seen.push({ expected, got: ack.ok ? 'ok' : ack.code });
      });
      return c;
    });
    sockets.push(...attackers);
    for (const c of [...honest, ...attackers]) expect((await c.hello()).ok).toBe(true);
    await waitFor(async () => (await coordinator!.store.getTask('tiny'))!.status === 'completed', 20_000);
    await waitFor(() => seen.length === attacks.length);
    for (const s of seen) expect(s.got).toBe(s.expected);
    const [record] = await coordinator.store.listRounds('tiny');
    expect(record).toMatchObject({ status: 'committed', reported: 2, rejected: attacks.length });
    for (const c of honest) expect(c.acks.every((a) => a.ok)).toBe(true);
    // The step is the honest clients' mean alone.
    const before = (await coordinator.store.getVersion('tiny', 0))!.weights;
    const after = (await coordinator.store.getVersion('tiny', 1))!.weights;
    const sent = honest.map((c) => denseOf(c.sent[0]!, d));
    for (let i = 0; i < d; i += 97)
      expect(after[i]).toBeCloseTo(before[i]! + (sent[0]![i]! + sent[1]![i]!) / 2, 6);
  });

  it('sends a shared coordinate set each round and refuses uploads on other coordinates', async () => {
    coordinator = await startTestCoordinator({
      rounds: { ...rounds(3, 3), deadlineMs: 1500 },
      compression: { kind: 'shared', fraction: 0.05, bits: 4, exploration: 0.2 },
    });
    const d = specSize((await coordinator.store.getTask('tiny'))!.weightSpec);
    const honest = [1, 2].map(
      (i) => new NodeContributor(coordinator!.url, `client-sh${i}`, () => deltaOf(i, d)),
    );
    const stray = new NodeContributor(coordinator.url, 'client-stray');
    const strayCodes: string[] = [];
    stray.socket.on('round:start', async (msg: RoundStartMessage) => {
      // Values on the first k coordinates rather than the round's set.
      const k = msg.compression!.k;
      const frame = encodeFrame({
        kind: 'sparse-quantized',
        dimension: d,
        indices: Uint32Array.from({ length: k }, (_, j) => j),
        quantized: quantize(new Float32Array(k).fill(0.001), 4, sfc32(2)),
      });
      const ack = await stray.send(msg, frame);
      strayCodes.push(ack.ok ? 'ok' : ack.code);
    });
    sockets.push(...honest, stray);
    for (const c of [...honest, stray]) expect((await c.hello()).ok).toBe(true);
    await waitFor(async () => (await coordinator!.store.getTask('tiny'))!.status === 'completed', 20_000);
    const sets = honest[0]!.rounds.map((m) => {
      expect(m.compression).toMatchObject({ kind: 'shared', bits: 4, k: Math.round(0.05 * d) });
      return decodeSortedIndices(toBytes(m.compression!.coordinates!), m.compression!.k, d);
    });
    expect(sets).toHaveLength(3);
    // Every client of a round got the same set; rounds after the first move with the aggregates.
    expect(
      Array.from(
        decodeSortedIndices(toBytes(honest[1]!.rounds[0]!.compression!.coordinates!), sets[0]!.length, d),
      ),
    ).toEqual(Array.from(sets[0]!));
    expect(Array.from(sets[1]!)).not.toEqual(Array.from(sets[0]!));
    // The honest uploads carry values exactly there, and the residual keeps the rest.
    for (const [r, set] of sets.entries()) {
      const body = decodeFrame(honest[0]!.sent[r]!, { dimension: d }).body;
      expect(body.kind).toBe('sparse-quantized');
      if (body.kind === 'sparse-quantized') expect(Array.from(body.indices)).toEqual(Array.from(set));
    }
    expect(strayCodes).toEqual(['BAD_FRAME', 'BAD_FRAME', 'BAD_FRAME']);
    expect((await coordinator.store.listRounds('tiny')).filter((r) => r.status === 'committed')).toHaveLength(
      3,
    );
    // The set list is tiny next to the weights it rides with.
    expect(encodeSortedIndices(sets[0]!, d).byteLength).toBeLessThan(2 * sets[0]!.length);
  });

  it('refuses impossible compression settings when a task is created', async () => {
    await expect(
      startTestCoordinator({
        compression: { kind: 'topk', fraction: 0.01 },
        strategy: { robust: { kind: 'median' } },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_TASK' });
  });
});
