import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, parseOptions, plan } from './strategies.ts';

// A smoke test of `pnpm bench:strategies`: the same code path at toy scale (20 clients, 3 per
// round, an 8-unit MLP, 2 rounds), so a change that breaks the benchmark fails here in seconds.
// The real run is minutes long and stays out of the suite.

const dir = mkdtempSync(join(tmpdir(), 'pollen-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOY = ['--clients', '20', '--fraction', '0.15', '--hidden', '8', '--epochs', '1', '--batch', '50'];

describe('bench:strategies', () => {
  it('plans the four strategies and the four Byzantine runs, with a Krum f the cohort allows', () => {
    const { race, byzantine } = plan(parseOptions([]));
    expect(race.map((r) => r.label)).toEqual(['FedAvg', 'FedProx', 'SCAFFOLD', 'FedAdam']);
    expect(byzantine.map((r) => r.label)).toEqual([
      'clean FedAvg',
      'FedAvg + 20% Byzantine',
      'trimmed mean + 20% Byzantine',
      'multi-Krum + 20% Byzantine',
    ]);
    expect(byzantine[3]!.strategy).toEqual({ robust: { kind: 'multi-krum', f: 3 } });
    expect(plan(parseOptions(['--rounds', '0'])).race).toEqual([]);
    expect(plan(parseOptions(['--byzantine-rounds', '0'])).byzantine).toEqual([]);
    expect(() => parseOptions(['--rounds', '-1'])).toThrow(/--rounds/);
    expect(() => parseOptions(['--byzantine-split', 'zipf'])).toThrow(/--byzantine-split/);
    expect(() => parseOptions(['--nope', '1'])).toThrow(/Unknown option/);
  });

  it('runs every strategy and attack for two rounds and writes its JSON', async () => {
    const out = join(dir, 'strategies.json');
    const args = [...TOY, '--rounds', '2', '--byzantine-rounds', '2', '--jobs', '1', '--out', out];
    const markdown = await main(args);
    expect(markdown).toMatch(/\| SCAFFOLD \| not within 2 \|/);
    expect(markdown).toMatch(/\| multi-Krum \+ 20% Byzantine \|/);
    const json = JSON.parse(readFileSync(out, 'utf8')) as {
      race: { label: string; accuracy: number[] }[];
      byzantine: { label: string; accuracy: number[]; strategy: { robust: { kind: string } } }[];
    };
    expect(json.race.map((r) => r.accuracy.length)).toEqual([2, 2, 2, 2]);
    // Every strategy learns something in two rounds (an untrained MLP scores about 0.1; a run
    // here ended at 0.23 to 0.35), and the sign-flipping attackers undo FedAvg's progress
    // (clean 0.49, attacked 0.10 in that run).
    for (const r of json.race) expect(r.accuracy[1]).toBeGreaterThan(0.15);
    const [clean, attacked] = json.byzantine;
    expect(clean!.accuracy[1]! - attacked!.accuracy[1]!).toBeGreaterThan(0.2);
    expect(json.byzantine.map((r) => r.strategy.robust.kind)).toEqual([
      'none',
      'none',
      'trimmed-mean',
      'multi-krum',
    ]);
  }, 180_000);
});
