import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRng } from '@pollen/fl-core';
import { initTf, modelTopology } from '@pollen/ml';
import { afterAll, describe, expect, it } from 'vitest';
import { useMnistCache } from '../data/mnist.ts';
import { resolveTaskInput } from '../task-file.ts';
import { removeDir } from '../testing/harness.ts';
import { TaskModel } from './evaluator.ts';

const dir = mkdtempSync(join(tmpdir(), 'pollen-eval-'));
afterAll(() => removeDir(dir));

describe('held-out evaluation off the event loop', () => {
  it('gives the evaluator thread the same answers as this thread, for requests in flight together', async () => {
    await initTf();
    useMnistCache(dir);
    const spec = await resolveTaskInput({ id: 'eval', model: { kind: 'mlp', hidden: [8] } });
    const model = await TaskModel.create(spec);
    try {
      const initial = await model.initialWeights();
      const rng = seededRng(7);
      const other = Float32Array.from(initial, (w) => w + 0.05 * (rng() - 0.5));
      const here = [await model.evaluateHere(initial), await model.evaluateHere(other)];
      // Two requests at once: the thread serves them in order, each on its own weights.
      const there = await Promise.all([model.evaluate(initial), model.evaluate(other)]);
      for (let i = 0; i < 2; i++) {
        expect(there[i]!.accuracy!).toBeCloseTo(here[i]!.accuracy!, 6);
        expect(there[i]!.loss!).toBeCloseTo(here[i]!.loss!, 5);
      }
      expect(here[0]!.loss!).not.toBeCloseTo(here[1]!.loss!, 5);
      // They came from the thread, not from the fallback on this one.
      expect(model.offThread).toBe(true);
    } finally {
      model.dispose();
    }
  }, 60_000);

  it('scores a fixed sample of the held-out set when it is larger than the cap, on the thread and here alike', async () => {
    await initTf();
    useMnistCache(dir);
    const spec = await resolveTaskInput({ id: 'eval', model: { kind: 'mlp', hidden: [8] } });
    const sampled = await TaskModel.create(spec, undefined, { sample: 100 });
    const whole = await TaskModel.create(spec, undefined, { sample: 0 });
    try {
      const weights = await sampled.initialWeights();
      const there = (await sampled.evaluate(weights))!;
      const here = (await sampled.evaluateHere(weights))!;
      expect(there.loss!).toBeCloseTo(here.loss!, 5);
      // 100 examples: accuracy moves in steps of 1/100.
      expect(Math.abs(there.accuracy! * 100 - Math.round(there.accuracy! * 100))).toBeLessThan(1e-4);
      expect(there.loss!).not.toBeCloseTo((await whole.evaluate(weights))!.loss!, 5);
      // The same examples for every version: the same weights score the same.
      expect((await sampled.evaluate(weights))!.loss).toBe(there.loss);
    } finally {
      sampled.dispose();
      whole.dispose();
    }
  }, 60_000);

  it('refuses at creation a model whose output disagrees with the target, naming the field', async () => {
    await initTf();
    const spec = await resolveTaskInput({
      id: 'five',
      model: {
        topology: await modelTopology(
          await resolveTaskInput({ id: 'x', model: { kind: 'mlp', hidden: [4] } }),
        ),
      },
      target: { kind: 'class', numClasses: 5 },
      data: undefined,
    });
    await expect(TaskModel.create(spec)).rejects.toMatchObject({
      code: 'INVALID_TASK',
      message: expect.stringMatching(
        /"target" \(class\) needs a model output of \[5\], the model gives \[10\]/,
      ),
    });
  });

  it('reports no held-out figures for a task without held-out data', async () => {
    await initTf();
    const spec = await resolveTaskInput({ id: 'none', model: { kind: 'mlp', hidden: [4] }, data: undefined });
    const model = await TaskModel.create(spec);
    try {
      expect(await model.evaluate(await model.initialWeights())).toBeNull();
    } finally {
      model.dispose();
    }
  });

  it('builds one model per task shape on the thread: the same shorthand over another input is another model', async () => {
    await initTf();
    useMnistCache(dir);
    const digits = await TaskModel.create(
      await resolveTaskInput({ id: 'digits', model: { kind: 'mlp', hidden: [4] } }),
    );
    const spec = await resolveTaskInput({
      id: 'spam',
      model: { kind: 'mlp', hidden: [4] },
      input: { shape: [64], dtype: 'float32' },
      target: { kind: 'class', numClasses: 2 },
      presentation: {
        kind: 'text-label',
        labels: ['ham', 'spam'],
        features: { kind: 'hashed-bow', dims: 64 },
      },
      data: { builtin: 'spam-assassin', partition: { kind: 'iid' }, numShards: 4 },
    });
    const messages = await TaskModel.create(spec);
    try {
      expect(await digits.evaluate(await digits.initialWeights())).toHaveProperty('accuracy');
      expect(await messages.evaluate(await messages.initialWeights())).toHaveProperty('accuracy');
      expect(messages.offThread).toBe(true);
    } finally {
      digits.dispose();
      messages.dispose();
    }
  }, 60_000);
});
