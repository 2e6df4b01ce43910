import { describe, expect, it } from 'vitest';
import { main, settings, table } from './finetune.ts';
import { type FinetuneFederation, simulateFinetune } from './finetune-sim.ts';

// The smallest run of bench:finetune: one client of 32 windows, one round, 50 held-out windows,
// so the script behind docs/tasks.md's table keeps working. Its perplexities mean nothing here.
const fed: FinetuneFederation = {
  clients: 1,
  rounds: 1,
  maxExamples: 32,
  heldOut: 50,
  pool: 4,
  heldOutFraction: 0.2,
  partition: 'natural',
  seed: 1,
  training: { epochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' },
};

describe('bench:finetune', () => {
  it('scores the base and a LoRA round of the pretrained transformer, counting the bytes each moves', async () => {
    const rows = settings(0.0001, 0.001, 0.001).filter((s) =>
      ['pretrained base', 'LoRA rank 2'].includes(s.label),
    );
    const [base, lora] = [await simulateFinetune(fed, rows[0]!), await simulateFinetune(fed, rows[1]!)];
    // The base trains nothing and moves nothing; its one score is the pretrained model's.
    expect(base!.metrics).toHaveLength(1);
    expect(base!.uploadBytes).toBe(0);
    // LoRA rank 2 on the 18 projections: 2 (in + out) values each (64 + 64 for q, k, v, o;
    // 64 + 256 for the feed-forward pair), a dense f32 frame of them each way.
    const values = 3 * (4 * 2 * 128 + 2 * 2 * 320);
    expect(lora!.trainableValues).toBe(values);
    expect(lora!.uploadBytes).toBe(32 + 4 * values);
    expect(lora!.downloadBytes).toBe(32 + 4 * values);
    // The frozen base is every pretrained weight.
    expect(lora!.baseBytes).toBe(32 + 4 * 158_449);
    expect(lora!.metrics).toHaveLength(2);
    expect(lora!.metrics[0]!.perplexity).toBeCloseTo(base!.metrics[0]!.perplexity!, 4);
    expect(table(fed, [base!, lora!])).toContain('| LoRA rank 2 |');
  }, 120_000);

  it.each([
    [['--partition', 'dirichlet'], /"--partition" expected natural or iid/],
    [['--held-out-fraction', '1'], /"--held-out-fraction" expected a number in \[0, 1\)/],
    [['--only', 'LoRA rank 3'], /"--only": no row LoRA rank 3/],
    [['--clients=-2'], /--clients expected a non-negative number/],
    [['--bogus', '1'], /Unknown option '--bogus'/],
  ])('refuses %j before training anything', async (argv, message) => {
    await expect(main(argv)).rejects.toThrow(message);
  });
});
