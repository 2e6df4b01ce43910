import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64ToBytes } from '@pollen/ml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTaskFile, resolveTaskInput } from './task-file.ts';
import { REGRESSION_TASK, saveRegressionModel, writeSavedModel } from './testing/saved-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'pollen-task-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(load: () => Promise<unknown>): Promise<string> {
  try {
    await load();
    return 'ok';
  } catch (err) {
    return `${(err as { code?: string }).code} ${(err as Error).message}`;
  }
}

describe('task files', () => {
  it('read a model.json named relative to the task file, with its weight files next to it', async () => {
    const saved = await saveRegressionModel();
    writeSavedModel(join(dir, 'models', 'houses'), saved);
    mkdirSync(join(dir, 'tasks'));
    const taskFile = join(dir, 'tasks', 'houses.json');
    writeFileSync(
      taskFile,
      JSON.stringify({ id: 'houses', model: { path: '../models/houses/model.json' }, ...REGRESSION_TASK }),
    );
    const spec = await loadTaskFile(taskFile);
    expect(spec.model).toMatchObject({ topology: saved.json.modelTopology });
    const weights = (spec.model as { weights: { data: string } }).weights;
    expect(new Float32Array(base64ToBytes(weights.data).buffer)).toEqual(saved.weights);
    expect(spec.columns).toEqual(REGRESSION_TASK.columns);

    // The same manifest check as an upload: a missing weight file, a bad path field.
    rmSync(join(dir, 'models', 'houses', 'group1-shard2of2.bin'));
    expect(await refusal(() => loadTaskFile(taskFile))).toMatch(
      /^INVALID_MODEL cannot read weight file .*group1-shard2of2.bin/,
    );
    writeFileSync(taskFile, JSON.stringify({ id: 'houses', model: { path: 7 }, ...REGRESSION_TASK }));
    expect(await refusal(() => loadTaskFile(taskFile))).toMatch(/^INVALID_TASK "model.path" expected string/);
    writeFileSync(
      taskFile,
      JSON.stringify({ id: 'houses', model: { path: 'nowhere.json' }, ...REGRESSION_TASK }),
    );
    expect(await refusal(() => loadTaskFile(taskFile))).toMatch(
      /^INVALID_MODEL cannot read model.json .*nowhere.json/,
    );
  });

  it("take MNIST's loss, metrics and digits only when they keep MNIST's target", async () => {
    const own = await resolveTaskInput({
      id: 'houses',
      model: { kind: 'mlp', hidden: [4] },
      ...REGRESSION_TASK,
    });
    expect(own).toMatchObject({ loss: 'meanSquaredError', metrics: ['mse', 'mae'] });
    expect(own).not.toHaveProperty('data');
    const digits = await resolveTaskInput({ id: 'digits', model: { kind: 'mlp', hidden: [4] } });
    expect(digits).toMatchObject({ loss: 'sparseCategoricalCrossentropy', data: { builtin: 'mnist' } });
    const fives = await resolveTaskInput({
      id: 'fives',
      target: { kind: 'class', numClasses: 10 },
      data: { builtin: 'mnist', partition: { kind: 'iid' }, numShards: 2 },
    });
    expect(fives.data).toMatchObject({ builtin: 'mnist', numShards: 2 });
  });
});

describe('the built-in tasks', () => {
  it('load by name: next-char and next-char-finetune on Brown text, spam on SpamAssassin messages, each with a model that fits', async () => {
    const { buildModel, checkModelFits } = await import('@pollen/ml');
    const nextChar = await loadTaskFile('next-char');
    expect(nextChar).toMatchObject({
      id: 'next-char',
      data: { builtin: 'brown', partition: { kind: 'natural' } },
      presentation: { kind: 'next-char', context: 10 },
      target: { kind: 'class', numClasses: 49 },
    });
    const model = await buildModel(nextChar);
    checkModelFits(model, nextChar);
    // At most a few hundred thousand parameters, so it trains in a tab.
    expect(model.countParams()).toBeLessThan(300_000);
    // The pretrained transformer, fine-tuned on the genres it was not pretrained on.
    const fineTune = await loadTaskFile('next-char-finetune');
    expect(fineTune).toMatchObject({
      id: 'next-char-finetune',
      data: { builtin: 'brown', part: 'fine-tune', partition: { kind: 'natural' } },
      presentation: {
        kind: 'next-char',
        context: 32,
        alphabet: (nextChar.presentation as { alphabet: string }).alphabet,
      },
      target: { kind: 'class', numClasses: 49 },
    });
    const transformer = await buildModel(fineTune);
    checkModelFits(transformer, fineTune);
    expect(transformer.getLayer('block0_q').getClassName()).toBe('Dense');
    // Its initial weights are the pretrained ones, not an initialization's zero biases.
    expect(Math.abs(transformer.getLayer('next').getWeights()[1]!.dataSync()[1]!)).toBeGreaterThan(0);
    const spam = await loadTaskFile('spam');
    expect(spam).toMatchObject({
      id: 'spam',
      data: { builtin: 'spam-assassin' },
      presentation: { kind: 'text-label', labels: ['ham', 'spam'] },
      metrics: ['accuracy', 'auc'],
    });
    // A path that is not a built-in name is read as a file.
    expect(await refusal(() => loadTaskFile(join(dir, 'spam')))).toMatch(
      /^INVALID_TASK cannot read task file/,
    );
  });
});
