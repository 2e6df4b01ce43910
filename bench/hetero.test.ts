import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, parseHeteroOptions } from './hetero.ts';

// A smoke test of `pnpm bench:hetero`: the same code path at toy scale (6 devices, 3 per round,
// an 8-unit MLP, 2 rounds), so a change that breaks the benchmark fails here in seconds.

const dir = mkdtempSync(join(tmpdir(), 'pollen-bench-hetero-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench:hetero', () => {
  it('reads its flags and refuses bad ones by name', () => {
    const options = parseHeteroOptions([]);
    expect(options.federation).toMatchObject({ clients: 30, cohort: 10, slowdown: 10, timeBudgetMs: 800 });
    expect(options.federation.slowFraction).toBeCloseTo(1 / 3, 12);
    expect(() => parseHeteroOptions(['--cohort', '40'])).toThrow(/--cohort \(40\) cannot exceed/);
    expect(() => parseHeteroOptions(['--repeats', '0'])).toThrow(/--repeats/);
    expect(() => parseHeteroOptions(['--target', '2'])).toThrow(/--target/);
    expect(() => parseHeteroOptions(['--slowdown', 'fast'])).toThrow(/--slowdown/);
    expect(() => parseHeteroOptions(['--speed', '1'])).toThrow(/speed/);
    expect(() => parseHeteroOptions(['--slow-devices', 'old'])).toThrow(
      /--slow-devices expected random or by-data/,
    );
    expect(parseHeteroOptions(['--slow-devices', 'by-data']).federation.slowDevices).toBe('by-data');
  });

  it('runs the three schemes on the same seeds and tables them against (a)', async () => {
    const out = join(dir, 'hetero.json');
    const toy = ['--clients', '6', '--cohort', '3', '--hidden', '8', '--epochs', '1', '--rounds', '2'];
    const table = await main([...toy, '--repeats', '1', '--target', '0.99', '--out', out]);
    expect(table).toContain('(a) fixed epochs, deadline');
    expect(table).toContain('(c) time budget, FedNova');
    const saved = JSON.parse(readFileSync(out, 'utf8')) as { runs: { scheme: string; accuracy: number[] }[] };
    expect(saved.runs.map((r) => r.scheme)).toEqual(['fixed', 'budget', 'fednova']);
    for (const run of saved.runs) expect(run.accuracy).toHaveLength(2);
  }, 120_000);
});
