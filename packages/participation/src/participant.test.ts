import { decodeDense, encodeDense } from '@pollen/compression';
import { type Ack, type RoundStartMessage, type SecAggReport, seededRng, toBytes } from '@pollen/fl-core';
import { describe, expect, it } from 'vitest';
import { Participant, type ParticipantEvents } from './participant.ts';
import { InMemoryDevice, type Link, type SecureChannel, type TrainInput, type TrainOutput } from './ports.ts';

const D = 8;

function start(roundId: number, extra: Partial<RoundStartMessage> = {}): RoundStartMessage {
  return {
    taskId: 't',
    roundId,
    modelVersion: roundId - 1,
    deadline: 0,
    training: { epochs: 1, batchSize: 4, learningRate: 0.1, optimizer: 'sgd' },
    codec: 'f32',
    weights: encodeDense(new Float32Array(D).fill(1), 'f32'),
    ...extra,
  };
}

/** A link that records what was sent and answers with `answer`. */
function recordingLink(answer: (event: string, msg: unknown) => Ack<object> = () => ({ ok: true })) {
  const sent: { event: string; msg: Record<string, unknown> }[] = [];
  const link: Link = {
    connected: true,
    request: async (event, msg) => {
      sent.push({ event, msg: msg as unknown as Record<string, unknown> });
      return answer(event, msg) as never;
    },
  };
  return { link, sent };
}

function output(delta: Float32Array, extra: Partial<TrainOutput> = {}): TrainOutput {
  return {
    delta,
    numExamples: 5,
    metrics: { metrics: { loss: 0.5 }, trainMs: 3 },
    steps: 4,
    clientControl: null,
    controlDelta: null,
    ...extra,
  };
}

function participant(
  train: (input: TrainInput) => Promise<TrainOutput | null>,
  link: Link,
  more: { secure?: SecureChannel; memory?: InMemoryDevice; events?: ParticipantEvents } = {},
) {
  const memory = more.memory ?? new InMemoryDevice();
  const p = new Participant({
    clientId: 'c1',
    link: () => link,
    backend: () => 'cpu',
    trainer: { train },
    memory,
    secure: more.secure ?? null,
    rng: () => seededRng(1),
    ...(more.events ? { events: more.events } : {}),
  });
  return { p, memory };
}

describe('Participant', () => {
  it('trains a round once however often its start comes, and uploads what training produced', async () => {
    const { link, sent } = recordingLink();
    let trained = 0;
    const uploaded: number[] = [];
    const { p } = participant(
      async ({ weights }) => {
        trained++;
        expect(Array.from(weights)).toEqual(new Array(D).fill(1));
        return output(new Float32Array(D).fill(0.25));
      },
      link,
      { events: { uploaded: (u) => uploaded.push(u.bytes) } },
    );
    await Promise.all([p.roundStart(start(3)), p.roundStart(start(3))]);
    expect(trained).toBe(1);
    // The upload waits for its slot (flow control), then goes.
    expect(sent.map((s) => s.event)).toEqual(['upload:slot', 'update']);
    expect(sent[0]!.msg).toEqual({ taskId: 't', roundId: 3 });
    const update = sent[1]!.msg;
    expect(update).toMatchObject({ roundId: 3, modelVersion: 2, numExamples: 5, steps: 4, trainMs: 3 });
    const frame = update.update as Uint8Array;
    expect(Array.from(decodeDense(frame).vector)).toEqual(new Array(D).fill(0.25));
    expect(uploaded).toEqual([frame.byteLength]);
    expect(p.busy).toBe(true);
    await p.roundEnd({ taskId: 't', roundId: 3, status: 'committed', modelVersion: 3 });
    expect(p.busy).toBe(false);
  });

  it("sends the global model's held-out metrics only when the round asks for them", async () => {
    const heldOut = { metrics: { loss: 0.3, accuracy: 0.8 }, numExamples: 2 };
    for (const [extra, expected] of [
      [{ evaluation: { heldOutFraction: 0.2 } }, heldOut],
      [{}, undefined],
      // Kept apart, not reported (a round under differential privacy or secure aggregation).
      [{ evaluation: { heldOutFraction: 0.2, report: false } }, undefined],
    ] as const) {
      const { link, sent } = recordingLink();
      const { p } = participant(async () => output(new Float32Array(D), { heldOut }), link);
      await p.roundStart(start(3, extra));
      expect(sent.find((s) => s.event === 'update')!.msg.heldOut).toEqual(expected);
    }
  });

  it('sends no update when its upload slot is refused (the round closed while it waited)', async () => {
    const { link, sent } = recordingLink((event) =>
      event === 'upload:slot' ? { ok: false, code: 'ROUND_CLOSED', message: 'closed' } : { ok: true },
    );
    const answered: string[] = [];
    const uploaded: number[] = [];
    const { p } = participant(async () => output(new Float32Array(D).fill(0.25)), link, {
      events: {
        answered: (_msg, ack) => answered.push(ack.ok ? 'ok' : ack.code),
        uploaded: (u) => uploaded.push(u.bytes),
      },
    });
    await p.roundStart(start(3));
    expect(sent.map((s) => s.event)).toEqual(['upload:slot']);
    expect(answered).toEqual(['ROUND_CLOSED']);
    expect(uploaded).toEqual([]);
  });

  it('withdraws, saying why, when training fails, and reports the error', async () => {
    const { link, sent } = recordingLink();
    const errors: string[] = [];
    const { p } = participant(
      async () => {
        throw new Error('out of memory');
      },
      link,
      { events: { error: (e) => errors.push(`${e.code}: ${e.message}`) } },
    );
    await p.roundStart(start(1));
    expect(errors).toEqual(['CLIENT_ERROR: out of memory']);
    expect(sent).toEqual([{ event: 'withdraw', msg: { taskId: 't', roundId: 1, reason: 'out of memory' } }]);
  });

  it('sends nothing for a round it left while training, nor when the trainer has nothing to send', async () => {
    const { link, sent } = recordingLink();
    let finish!: () => void;
    let training!: () => void;
    const trainingStarted = new Promise<void>((resolve) => {
      training = resolve;
    });
    const { p } = participant(
      (input) =>
        input.msg.roundId === 1
          ? new Promise((resolve) => {
              training();
              finish = () => resolve(output(new Float32Array(D)));
            })
          : Promise.resolve(null),
      link,
    );
    const first = p.roundStart(start(1));
    await trainingStarted;
    p.leaveRounds();
    finish();
    await first;
    await p.roundStart(start(2));
    expect(sent).toEqual([]);
  });

  it('keeps error feedback residual only from accepted uploads', async () => {
    let accept = false;
    const { link } = recordingLink(() =>
      accept ? { ok: true } : { ok: false, code: 'ROUND_CLOSED', message: 'closed' },
    );
    const compression = { kind: 'topk' as const, bits: 32 as const, k: 2, errorFeedback: true };
    const delta = Float32Array.from({ length: D }, (_, i) => i + 1);
    const { p, memory } = participant(async () => output(delta.slice()), link);
    await p.roundStart(start(1, { compression }));
    expect(memory.residual).toBeNull();
    accept = true;
    await p.roundStart(start(2, { compression }));
    // The two largest were sent; the other six are kept for the next upload.
    expect(Array.from(memory.residual!)).toEqual([1, 2, 3, 4, 5, 6, 0, 0]);
  });

  it('keeps SCAFFOLD c_i+ only once its round committed, and trains the next round from it', async () => {
    const { link, sent } = recordingLink();
    const seen: (number[] | null)[] = [];
    const strategy = { proximalMu: 0, scaffold: true };
    const control = encodeDense(new Float32Array(D).fill(0.5), 'f32');
    const { p, memory } = participant(async ({ scaffold, msg }) => {
      seen.push(scaffold!.ci ? Array.from(scaffold!.ci) : null);
      expect(Array.from(scaffold!.c)).toEqual(new Array(D).fill(0.5));
      return output(new Float32Array(D), {
        clientControl: new Float32Array(D).fill(msg.roundId),
        controlDelta: new Float32Array(D).fill(0.1),
      });
    }, link);
    await p.roundStart(start(1, { strategy, control }));
    await p.roundEnd({ taskId: 't', roundId: 1, status: 'abandoned', modelVersion: 0 });
    expect(memory.control).toBeNull();
    await p.roundStart(start(2, { strategy, control }));
    await p.roundEnd({ taskId: 't', roundId: 2, status: 'committed', modelVersion: 1 });
    await p.roundStart(start(3, { strategy, control }));
    expect(seen).toEqual([null, null, new Array(D).fill(2)]);
    const controlDelta = sent.find((s) => s.event === 'update')!.msg.controlDelta as Uint8Array;
    expect(Array.from(decodeDense(controlDelta, { dimension: D }).vector)).toEqual(
      new Array(D).fill(0.1).map(Math.fround),
    );
  });

  it('refuses without a secure channel, and otherwise advertises at once and masks the privatized input', async () => {
    const secagg = {
      index: 0,
      n: 3,
      k: 2,
      threshold: 2,
      seed: new Uint8Array(32),
      range: 1,
      bits: 32,
      control: false,
      clipBit: true,
      steps: true,
      words: D + 2,
      stageMs: 1000,
    };
    const privacy = {
      mode: 'distributed' as const,
      clipNorm: 1,
      noiseStd: 0,
      clipBit: true,
      delta: null,
      epsilonBefore: null,
      epsilonAfter: null,
    };
    const { link, sent } = recordingLink();
    const { p: without } = participant(async () => output(new Float32Array(D).fill(1)), link);
    await without.roundStart(start(1, { secagg }));
    expect(sent.map((s) => s.event)).toEqual(['withdraw']);

    const calls: string[] = [];
    let input: { delta: number[]; clipBit: 0 | 1 | null; steps: number | null; report: SecAggReport } | null =
      null;
    const secure: SecureChannel = {
      start: (msg) => calls.push(`start ${msg.roundId}`),
      input: async (_msg, delta, _control, clipBit, report, steps) => {
        calls.push('input');
        input = { delta: Array.from(delta), clipBit, steps, report };
        return { ok: true };
      },
      end: (roundId) => calls.push(`end ${roundId}`),
    };
    const { p } = participant(
      async () => {
        calls.push('train');
        return output(new Float32Array(D).fill(1));
      },
      link,
      { secure },
    );
    await p.roundStart(start(2, { secagg, privacy }));
    await p.roundEnd({ taskId: 't', roundId: 2, status: 'committed', modelVersion: 2 });
    expect(calls).toEqual(['start 2', 'train', 'input', 'end 2']);
    // Clipped to norm 1 (from sqrt(8)), then divided by the 4 steps for FedNova.
    const each = 1 / Math.sqrt(D) / 4;
    for (const v of input!.delta) expect(v).toBeCloseTo(each, 6);
    expect(input).toMatchObject({ clipBit: 0, steps: 4, report: { numExamples: 5, backend: 'cpu' } });
    expect(sent.map((s) => s.event)).toEqual(['withdraw']);
  });

  it('withdraws from a round the coordinator still counts it in but it is not training', async () => {
    const { link, sent } = recordingLink();
    const { p } = participant(async () => output(new Float32Array(D)), link);
    expect(p.hello('t', 7, true)).toMatchObject({
      clientId: 'c1',
      taskId: 't',
      numExamples: 7,
      backend: 'cpu',
    });
    await p.admitted({ taskId: 't', modelVersion: 4, shardUrl: '', activeRound: 9 });
    await p.admitted({ taskId: 't', modelVersion: 4, shardUrl: '', activeRound: null });
    expect(sent).toEqual([
      {
        event: 'withdraw',
        msg: { taskId: 't', roundId: 9, reason: 'this device is not training that round' },
      },
    ]);
  });
});

describe('startBytes', () => {
  it('counts the weights, the control variate and the shared coordinates', async () => {
    const { startBytes } = await import('./participant.ts');
    const msg = start(1, { control: new Uint8Array(5) });
    expect(startBytes(msg)).toBe(toBytes(msg.weights!).byteLength + 5);
  });

  it('answers an evaluation round with the global model on its held-out examples, or null when it cannot', async () => {
    const msg = {
      taskId: 't',
      evaluationId: 4,
      modelVersion: 7,
      deadline: 0,
      weights: encodeDense(new Float32Array(D).fill(2), 'f32'),
      heldOutFraction: 0.2,
    };
    const heldOut = { metrics: { loss: 0.3, accuracy: 0.8 }, numExamples: 2 };
    for (const [evaluate, expected] of [
      [async ({ weights }: { weights: Float32Array }) => (weights[0] === 2 ? heldOut : null), heldOut],
      [undefined, null],
      [
        async () => {
          throw new Error('no backend');
        },
        null,
      ],
    ] as const) {
      const { link, sent } = recordingLink();
      const answered: unknown[] = [];
      const errors: string[] = [];
      const p = new Participant({
        clientId: 'c1',
        link: () => link,
        backend: () => 'cpu',
        trainer: { train: async () => null, ...(evaluate ? { evaluate } : {}) },
        memory: new InMemoryDevice(),
        secure: null,
        events: {
          evaluated: (_m, h, ack) => answered.push([h, ack.ok]),
          error: (e) => errors.push(e.message),
        },
      });
      await p.evaluationStart(msg);
      // Metrics only: no weights travel up.
      expect(sent).toEqual([
        { event: 'eval:report', msg: { taskId: 't', evaluationId: 4, modelVersion: 7, heldOut: expected } },
      ]);
      expect(answered).toEqual([[expected, true]]);
      expect(errors.length).toBe(evaluate && expected === null ? 1 : 0);
    }
  });
});
