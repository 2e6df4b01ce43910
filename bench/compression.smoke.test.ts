import { describe, expect, it } from 'vitest';
import { SETTINGS, table } from './compression.ts';
import { type CompressionFederation, simulateCompression } from './compression-sim.ts';

// The smallest run of bench:compression: two clients, two rounds, a tiny MLP, so the script
// behind bench/README.md's table keeps working. Its figures mean nothing at this size.
const fed: CompressionFederation = {
  clients: 2,
  split: 'iid',
  alpha: 0.5,
  rounds: 2,
  hidden: [8],
  training: { epochs: 1, batchSize: 64, learningRate: 0.1, optimizer: 'sgd' },
  seed: 1,
};

describe('bench:compression', () => {
  it('trains dense, top-k and shared rows through the real encoder, decoder and accumulator', async () => {
    const rows = SETTINGS.filter((s) => ['dense f32', 'top-k 1% 8-bit', 'shared 1% 8-bit'].includes(s.label));
    const results = [];
    for (const row of rows) results.push(await simulateCompression(fed, row));
    const [dense, topk, shared] = results;
    // d = 784 * 8 + 8 + 8 * 10 + 10 = 6,370: a dense upload is 32 + 4d bytes.
    expect(dense!.uploadBytes).toBe(32 + 4 * 6370);
    expect(topk!.uploadBytes).toBeLessThan(dense!.uploadBytes / 100);
    expect(shared!.uploadBytes).toBeLessThan(dense!.uploadBytes / 100);
    for (const r of results) expect(r.accuracy).toHaveLength(2);
    // The federation learns through the real pipeline (untrained or broken, it scores ~0.1; a
    // run here had 0.65 then 0.78 dense, 0.24 then 0.41 top-k 1%), and error feedback carries
    // top-k forward from one round to the next.
    expect(dense!.accuracy[1]).toBeGreaterThan(0.5);
    expect(topk!.accuracy[1]).toBeGreaterThan(topk!.accuracy[0]!);
    expect(table(fed, results)).toContain('| top-k 1% 8-bit |');
  }, 60_000);

  it('runs DGC uploads with compressed downloads: the clients train from the rebuilt broadcast', async () => {
    const row = SETTINGS.find((s) => s.label === 'top-k 0.1% 4-bit DGC + down 10% 8-bit')!;
    const result = await simulateCompression({ ...fed, rounds: 3 }, row);
    // Round 1 downloads the dense model, later rounds a 10% 8-bit delta (637 values).
    expect(result.downloadBytesPerRound[0]).toBe(32 + 4 * 6370);
    expect(result.downloadBytesPerRound[1]).toBeLessThan((32 + 4 * 6370) / 5);
    // The warm-up starts at 2% of 6,370 coordinates (127 values) and ends at 0.1% (6).
    expect(result.uploadBytesPerRound[0]).toBeGreaterThan(result.uploadBytesPerRound[2]!);
    expect(result.accuracy).toHaveLength(3);
  }, 60_000);
});
