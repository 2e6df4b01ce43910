import { describe, expect, it } from 'vitest';
import type { BenchError } from '../lib/errors.ts';
import { Behaviour } from './behaviour.ts';
import { parseCohort, parseLatency, parsePartition, parseSimArgs } from './options.ts';
import { builtinSimTask } from './task.ts';

describe('pnpm sim options', () => {
  it('takes the issue reference command: --browser --clients 20 --rounds 15 on Dirichlet(0.5) and an MLP', () => {
    const o = parseSimArgs(['--browser', '--clients', '20', '--rounds', '15']);
    expect(o).toMatchObject({ mode: 'browser', clients: 20, rounds: 15, backend: 'wasm', cohortSize: 20 });
    expect(o.partition).toEqual({ kind: 'dirichlet', alpha: 0.5 });
    expect(o.model).toEqual({ kind: 'mlp', hidden: [128] });
    expect(parseSimArgs(['--browser', '20'])).toMatchObject({ mode: 'browser', clients: 20 });
    expect(parseSimArgs(['--node=7'])).toMatchObject({ mode: 'node', clients: 7 });
  });

  it('reads cohorts as fractions or counts, partitions and latency', () => {
    expect(parseCohort('0.5', 20)).toBe(10);
    expect(parseCohort('25%', 20)).toBe(5);
    expect(parseCohort('3', 20)).toBe(3);
    expect(parseCohort('0.01', 20)).toBe(1);
    expect(parsePartition('shards:2')).toEqual({ kind: 'shards', shardsPerClient: 2 });
    expect(parsePartition('iid')).toEqual({ kind: 'iid' });
    expect(parseLatency('1,10')).toEqual({ medianMs: 1000, p95Ms: 10_000 });
    expect(() => parseLatency('10,1')).toThrow(/95th percentile/);
    expect(() => parseCohort('30', 20)).toThrow(/"--cohort" expected an integer in \[1, 20\]/);
  });

  it('refuses what the coordinator cannot do yet, naming the issue', () => {
    const refused = (args: string[]): BenchError => {
      try {
        parseSimArgs(args);
      } catch (err) {
        return err as BenchError;
      }
      throw new Error(`accepted ${args.join(' ')}`);
    };
    expect(parseSimArgs(['--node', '--secagg']).secureAggregation).toBe(true);
    expect(parseSimArgs(['--node']).secureAggregation).toBe(false);
    expect(refused(['--node', '--dp', 'distributed:0'])).toMatchObject({ code: 'INVALID_OPTION' });
    expect(refused(['--node', '--dp', 'distributed:1', '--strategy', 'scaffold'])).toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/SCAFFOLD/),
    });
    expect(refused(['--node', '--compression', 'topk:0.01', '--strategy', 'median'])).toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/robust rule/),
    });
    expect(refused(['--node', '--compression', 'zip:0.1'])).toMatchObject({ code: 'INVALID_OPTION' });
    expect(refused(['--node', '--async', '0'])).toMatchObject({ code: 'INVALID_OPTION' });
    expect(refused(['--node', '--async', '8,4'])).toMatchObject({ code: 'INVALID_OPTION' });
    expect(refused(['--node', '--async', '4', '--in-flight', '2'])).toMatchObject({ code: 'INVALID_OPTION' });
    expect(refused(['--node', '--in-flight', '17'])).toMatchObject({ code: 'INVALID_OPTION' });
    expect(refused(['--node', '--strategy', 'krum:1+scaffold'])).toMatchObject({ code: 'INVALID_OPTION' });
    expect(refused(['--node', '--model', 'cnn'])).toMatchObject({ code: 'INVALID_OPTION' });
    expect(refused(['--node', '--browser'])).toMatchObject({ code: 'INVALID_OPTION' });
    // Evaluation on the devices: a share of each client's examples, at most half of them.
    expect(parseSimArgs(['--node']).deviceHeldOut).toBe(0);
    expect(parseSimArgs(['--node', '--device-held-out', '0.2']).deviceHeldOut).toBe(0.2);
    for (const bad of ['0.6', '-0.1', 'some']) {
      expect(refused(['--node', '--device-held-out', bad])).toMatchObject({ code: 'INVALID_OPTION' });
    }
    // Which examples: by hash (the default) or a client's newest, a gap before them.
    expect(parseSimArgs(['--node']).heldOutSplit).toEqual({ kind: 'hash' });
    expect(parseSimArgs(['--node', '--held-out-split', 'newest:10']).heldOutSplit).toEqual({
      kind: 'newest',
      gap: 10,
    });
    for (const bad of ['newest', 'newest:-1', 'newest:1.5', 'oldest:3', '']) {
      expect(refused(['--node', '--held-out-split', bad])).toMatchObject({ code: 'INVALID_OPTION' });
    }
    // Evaluation rounds every N versions, on the devices' held-out examples only.
    expect(parseSimArgs(['--node', '--device-held-out', '0.2', '--federated-eval', '2']).federatedEvery).toBe(
      2,
    );
    expect(parseSimArgs(['--node']).federatedEvery).toBe(0);
    expect(refused(['--node', '--federated-eval', '2'])).toMatchObject({ code: 'INVALID_OPTION' });
    for (const bad of ['0.5', '-1', 'x']) {
      expect(refused(['--node', '--device-held-out', '0.2', '--federated-eval', bad])).toMatchObject({
        code: 'INVALID_OPTION',
      });
    }
  });

  it('schedules synchronous rounds one at a time by default, overlapping or FedBuff on request', () => {
    expect(parseSimArgs(['--node', '20']).schedule).toEqual({ mode: 'sync', maxInFlight: 1 });
    expect(parseSimArgs(['--node', '20', '--in-flight', '3']).schedule).toEqual({
      mode: 'sync',
      maxInFlight: 3,
    });
    expect(parseSimArgs(['--node', '20', '--cohort', '10', '--async', '5']).schedule).toEqual({
      mode: 'buffered',
      bufferSize: 5,
      concurrency: 13,
    });
    expect(parseSimArgs(['--node', '20', '--async', '5,8']).schedule).toMatchObject({ concurrency: 8 });
  });

  it('accepts what is wired: f16 uploads, the strategies of issue 3, the privacy of issue 4', () => {
    expect(parseSimArgs(['--node', '--compression', 'topk:0.01:8']).compression).toMatchObject({
      kind: 'topk',
      fraction: 0.01,
      bits: 8,
      errorFeedback: true,
    });
    const o = parseSimArgs(['--node', '--compression', 'f16', '--strategy', 'fedadam+fedprox:0.01']);
    expect(o.codec).toBe('f16');
    expect(o.strategy).toMatchObject({ name: 'fedadam', mu: 0.01 });
    expect(o.privacy).toEqual({ mode: 'off' });
    const dp = parseSimArgs([
      '--node',
      '--dp',
      'distributed:0.8',
      '--clip-norm',
      '2',
      '--epsilon-budget',
      '20',
    ]);
    expect(dp.privacy).toEqual({
      mode: 'distributed',
      noiseMultiplier: 0.8,
      clipNorm: 2,
      delta: 1e-5,
      epsilonBudget: 20,
    });
  });
});

describe('simulated misbehaviour', () => {
  it('is reproducible from the seed and keeps the configured rates', () => {
    const options = parseSimArgs(['--node', '--dropout', '0.2', '--latency', '1,10', '--seed', '3']);
    const a = new Behaviour(options);
    const b = new Behaviour(options);
    const plans = Array.from({ length: 2000 }, (_, i) => a.planRound(`c${i % 50}`, i));
    expect(plans).toEqual(Array.from({ length: 2000 }, (_, i) => b.planRound(`c${i % 50}`, i)));
    expect(a.planRound('c0', 0)).toBe(plans[0]);
    const dropped = plans.filter((p) => p.dropout).length / plans.length;
    expect(dropped).toBeGreaterThan(0.16);
    expect(dropped).toBeLessThan(0.24);
    const delays = plans
      .filter((p) => !p.dropout)
      .map((p) => p.delayMs)
      .sort((x, y) => x - y);
    const at = (q: number): number => delays[Math.floor(q * (delays.length - 1))]!;
    expect(at(0.5)).toBeGreaterThan(850);
    expect(at(0.5)).toBeLessThan(1150);
    expect(at(0.95)).toBeGreaterThan(7000);
    expect(at(0.95)).toBeLessThan(14_000);
  });
});

describe('pnpm sim on a built-in task', () => {
  it('reads --task next-char|spam without --data as the built-in task on its own data', () => {
    const o = parseSimArgs(['--node', '--task', 'next-char', '--clients', '4']);
    expect(o).toMatchObject({ builtin: 'next-char', open: null, clients: 4, partition: { kind: 'natural' } });
    expect(parseSimArgs(['--node', '--task', 'spam', '--partition', 'natural'])).toMatchObject({
      builtin: 'spam',
      partition: { kind: 'natural' },
    });
    const task = builtinSimTask(
      parseSimArgs(['--node', '--task', 'spam', '--partition', 'natural', '--shards', '5']),
      {
        id: 'spam',
        name: 'Spam',
        data: { builtin: 'spam-assassin', partition: { kind: 'iid' }, numShards: 12, seed: 1 },
        training: { epochs: 2, batchSize: 16, learningRate: 0.01, optimizer: 'adam' },
      },
    );
    expect(task).toMatchObject({
      id: 'sim',
      data: { builtin: 'spam-assassin', partition: { kind: 'natural' }, numShards: 5, seed: 1 },
      training: { epochs: 2, batchSize: 16 },
    });
    expect(() => parseSimArgs(['--node', '--partition', 'natural'])).toThrow(
      /"--partition natural" splits a built-in task/,
    );
    expect(parsePartition('natural')).toEqual({ kind: 'natural' });
  });

  it("keeps the task file's round deadline unless --deadline is given", () => {
    const file = {
      id: 'next-char-finetune',
      name: 'Fine-tune',
      data: { builtin: 'brown', partition: { kind: 'natural' }, numShards: 4, seed: 1 },
      rounds: { cohortSize: 10, minReports: 5, deadlineMs: 120_000 },
    };
    const own = builtinSimTask(parseSimArgs(['--node', '--task', 'next-char-finetune']), file);
    expect(own.rounds).toMatchObject({ deadlineMs: 120_000 });
    const given = builtinSimTask(
      parseSimArgs(['--node', '--task', 'next-char-finetune', '--deadline', '400']),
      file,
    );
    expect(given.rounds).toMatchObject({ deadlineMs: 400_000 });
  });
});

describe('pnpm sim --trainable', () => {
  it('reads lora, layers, head and all, and puts the block in the task', () => {
    expect(parseSimArgs(['--node', '--trainable', 'lora:4:8:block0_q,block0_v']).trainable).toEqual({
      kind: 'lora',
      rank: 4,
      alpha: 8,
      layers: ['block0_q', 'block0_v'],
    });
    expect(parseSimArgs(['--node', '--trainable', 'layers:a,b']).trainable).toEqual({
      kind: 'layers',
      names: ['a', 'b'],
    });
    expect(parseSimArgs(['--node']).trainable).toBeNull();
    const file = {
      id: 'next-char-finetune',
      name: 'Fine-tune',
      model: {
        topology: { config: { layers: [{ config: { name: 'embed' } }, { config: { name: 'next' } }] } },
      },
      data: { builtin: 'brown', partition: { kind: 'natural' }, numShards: 4, seed: 1 },
      training: { epochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' },
    };
    const head = builtinSimTask(
      parseSimArgs(['--node', '--task', 'next-char-finetune', '--trainable', 'head']),
      file,
    );
    expect(head.training).toMatchObject({ epochs: 1, trainable: { kind: 'layers', names: ['next'] } });
    expect(
      builtinSimTask(parseSimArgs(['--node', '--task', 'next-char-finetune']), file).training,
    ).not.toHaveProperty('trainable');
  });

  it.each([
    ['lora:0:8:a', /"--trainable": "training.trainable.rank" expected integer in \[1, 256\], got 0/],
    ['lora:2:-1:a', /"training.trainable.alpha"/],
    ['lora:2:4', /"training.trainable.layers" expected array of 1\.\.1000/],
    ['layers:a,a', /names layer "a" twice/],
    ['some', /"training.trainable.kind" expected one of all, layers, lora/],
  ])('refuses %s', (text, message) => {
    expect(() => parseSimArgs(['--node', '--trainable', text])).toThrow(message);
  });
});
