import { encodeDense, encodeModelDelta } from '@pollen/compression';
import { type Ack, type RoundModelReply, type RoundStartMessage, seededRng } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import {
  checkedDenseModel,
  InMemoryModelCache,
  modelChecksum,
  parseDownload,
  rebuildModel,
} from './model-download.ts';
import { Participant } from './participant.ts';
import { InMemoryDevice, type Link, type TrainInput } from './ports.ts';

const D = 16;
const w0 = Float32Array.from({ length: D }, (_, i) => Math.sin(i));
const w1 = Float32Array.from(w0, (x, i) => x + 0.01 * Math.cos(i));
const w2 = Float32Array.from(w1, (x, i) => x - 0.02 * Math.sin(3 * i));
const settings = { bits: 8, fraction: 0.5 } as const;
const d1 = encodeModelDelta(w1, w0, settings, { round: 1 });
const d2 = encodeModelDelta(w2, d1.reconstructed, settings, { round: 2 });

function start(extra: Partial<RoundStartMessage>): RoundStartMessage {
  return {
    taskId: 't',
    roundId: 7,
    modelVersion: 2,
    deadline: 0,
    training: { epochs: 1, batchSize: 4, learningRate: 0.1, optimizer: 'sgd' },
    codec: 'f32',
    ...extra,
  };
}

async function deltaStart(): Promise<RoundStartMessage> {
  return start({
    download: { from: 0, frames: [d1.frame, d2.frame], checksum: await modelChecksum(d2.reconstructed) },
  });
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code });
}

/** A device with a kept model of version 0, a link that answers `round:model` with ŵ_2, and what it trained on. */
async function device(kept: Float32Array | null) {
  const models = new InMemoryModelCache();
  if (kept) await models.save('t', { version: 0, checksum: await modelChecksum(w0), weights: kept });
  const asked: unknown[] = [];
  const link: Link = {
    connected: true,
    request: async (event, msg) => {
      asked.push({ event, msg });
      if (event !== 'round:model') return { ok: true } as never;
      const reply: Ack<RoundModelReply> = {
        ok: true,
        weights: encodeDense(d2.reconstructed, 'f32'),
        checksum: await modelChecksum(d2.reconstructed),
      };
      return reply as never;
    },
  };
  const trained: Float32Array[] = [];
  const refetched: number[] = [];
  const p = new Participant({
    clientId: 'c1',
    link: () => link,
    backend: () => 'cpu',
    trainer: {
      train: async ({ weights }: TrainInput) => {
        trained.push(weights);
        return null;
      },
    },
    memory: new InMemoryDevice(),
    models,
    secure: null,
    rng: () => seededRng(1),
    events: { refetched: (_msg, bytes) => refetched.push(bytes) },
  });
  return { p, models, asked, trained, refetched };
}

describe('compressed downloads on the device', () => {
  it('rebuild the round model from the kept one, bit for bit, keep it and name it in the hello', async () => {
    const { p, models, asked, trained } = await device(Float32Array.from(w0));
    expect(p.hello('t', 3, true, await p.cachedModel('t')).model).toEqual({
      version: 0,
      checksum: await modelChecksum(w0),
    });
    await p.roundStart(await deltaStart());
    expect(asked).toEqual([]);
    expect(trained[0]).toEqual(d2.reconstructed);
    const kept = await models.load('t');
    expect(kept).toMatchObject({ version: 2, checksum: await modelChecksum(d2.reconstructed) });
    expect(await p.cachedModel('t')).toEqual({ version: 2, checksum: kept!.checksum });
  });

  it('discard a corrupted kept model (checksum mismatch) and ask for the whole one', async () => {
    const corrupted = Float32Array.from(w0);
    corrupted[3] = corrupted[3]! + 1e-3;
    const { p, models, asked, trained, refetched } = await device(corrupted);
    await p.roundStart(await deltaStart());
    expect(asked).toEqual([{ event: 'round:model', msg: { taskId: 't', roundId: 7 } }]);
    expect(refetched).toEqual([encodeDense(d2.reconstructed, 'f32').byteLength]);
    expect(trained[0]).toEqual(d2.reconstructed);
    expect((await models.load('t'))?.version).toBe(2);
  });

  it('ask for the whole model when it lost its kept one', async () => {
    const { p, asked, trained } = await device(null);
    await p.roundStart(await deltaStart());
    expect(asked.map((a) => (a as { event: string }).event)).toEqual(['round:model']);
    expect(trained[0]).toEqual(d2.reconstructed);
  });

  it('check a dense start against its checksum and keep it', async () => {
    const { p, models, asked, trained } = await device(null);
    const weights = encodeDense(w0, 'f32');
    await p.roundStart(start({ modelVersion: 0, weights, modelChecksum: await modelChecksum(w0) }));
    expect(asked).toEqual([]);
    expect(trained[0]).toEqual(w0);
    expect((await models.load('t'))?.version).toBe(0);
  });

  it('refuse malformed download blocks (INVALID_MESSAGE) without asking or training', async () => {
    const checksum = await modelChecksum(d2.reconstructed);
    const bad: unknown[] = [
      null,
      { from: 2.5, frames: [], checksum },
      { from: 3, frames: [], checksum },
      { from: 0, frames: [d1.frame], checksum },
      { from: 0, frames: [d1.frame, 'x'], checksum },
      { from: 0, frames: [d1.frame, d2.frame], checksum: 'ABC' },
    ];
    for (const download of bad) {
      const msg = start({ download: download as RoundStartMessage['download'] });
      expect(() => parseDownload(msg)).toThrow(expect.objectContaining({ code: 'INVALID_MESSAGE' }));
      const { p, asked, trained } = await device(Float32Array.from(w0));
      await p.roundStart(msg);
      expect(trained).toEqual([]);
      expect(asked.map((a) => (a as { event: string }).event)).toEqual(['withdraw']);
    }
    const both = start({
      weights: encodeDense(w0, 'f32'),
      download: { from: 0, frames: [d1.frame, d2.frame], checksum },
    });
    expect(() => parseDownload(both)).toThrow(expect.objectContaining({ code: 'INVALID_MESSAGE' }));
  });

  it('refuse bad frames, a chain out of order and a model of another version (BAD_FRAME, STALE_MODEL)', async () => {
    const kept = { version: 0, checksum: await modelChecksum(w0), weights: w0 };
    const checksum = await modelChecksum(d2.reconstructed);
    await expectCode(rebuildModel(kept, { from: 0, frames: [d2.frame, d1.frame], checksum }), 'BAD_FRAME');
    await expectCode(
      rebuildModel(kept, { from: 0, frames: [d1.frame, d2.frame.subarray(0, 40)], checksum }),
      'BAD_FRAME',
    );
    const wide = encodeModelDelta(new Float32Array(D + 1), new Float32Array(D + 1), settings, { round: 1 });
    await expectCode(rebuildModel(kept, { from: 0, frames: [wide.frame], checksum }), 'BAD_FRAME');
    const nan = encodeDense(new Float32Array(D).fill(Number.NaN), 'f32');
    await expectCode(rebuildModel(kept, { from: 0, frames: [nan], checksum }), 'BAD_FRAME');
    await expectCode(rebuildModel(kept, { from: 1, frames: [d2.frame], checksum }), 'STALE_MODEL');
    await expectCode(rebuildModel(null, { from: 0, frames: [d1.frame], checksum }), 'STALE_MODEL');
    await expectCode(checkedDenseModel(encodeDense(w1, 'f32'), checksum, 2), 'BAD_FRAME');
    await expectCode(checkedDenseModel(new Uint8Array(5), checksum, 2), 'BAD_FRAME');
    // The model it already holds: no frames, nothing to download.
    const same = await rebuildModel(kept, { from: 0, frames: [], checksum: kept.checksum });
    expect(same.weights).toEqual(w0);
  });
});
