import { validateTaskSpec } from '@pollen/fl-core';
import { buildModel, checkModelFits } from '@pollen/ml';
import { describe, expect, it } from 'vitest';
import { resolveTaskInput } from '../task-file.ts';
import { type PretrainOptions, pretrainNextChar } from './pretrain.ts';

const TOY: PretrainOptions = {
  size: { context: 8, width: 8, heads: 2, blocks: 1, ffn: 16 },
  seed: 7,
  steps: 3,
  batchSize: 4,
  learningRate: 0.01,
};

describe('pretraining the next-char transformer', () => {
  it('is deterministic from its seed and writes a task file the coordinator accepts', async () => {
    const a = await pretrainNextChar(TOY);
    const b = await pretrainNextChar(TOY);
    const weights = (t: Record<string, unknown>) => (t.model as { weights: { data: string } }).weights.data;
    expect(weights(b.task)).toBe(weights(a.task));
    expect(b.heldOut).toEqual(a.heldOut);
    const other = await pretrainNextChar({ ...TOY, seed: 8 });
    expect(weights(other.task)).not.toBe(weights(a.task));

    const spec = validateTaskSpec(a.task);
    expect(spec).toMatchObject({
      id: 'next-char-finetune',
      input: { shape: [8], dtype: 'uint8' },
      presentation: { kind: 'next-char', context: 8 },
      data: { builtin: 'brown', part: 'fine-tune', partition: { kind: 'natural' }, numShards: 296 },
    });
    // The coordinator builds its model with the pretrained weights, and it fits the task.
    const resolved = await resolveTaskInput(a.task);
    const model = await buildModel(resolved);
    checkModelFits(model, resolved);
    expect(model.countParams()).toBe(a.params);
    expect(a.baselines.map((x) => x.name)).toEqual(['unigram', 'bigram']);
    expect(a.heldOut.perplexity).toBeGreaterThan(1);
  });
});
