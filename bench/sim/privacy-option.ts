import {
  checkPrivacyCompatibility,
  type PrivacySettings,
  type StrategyConfig,
  validatePrivacySettings,
} from '@pollen/fl-core';
import { BenchError } from '../lib/errors.ts';

/** Defaults of the `--dp` shorthands: C, delta, and a budget high enough not to stop a simulation. */
export const DP_DEFAULTS = { clipNorm: 1, delta: 1e-5, epsilonBudget: 1000 } as const;

/**
 * `--dp`: a task's privacy block (docs/design.md "Differential privacy"), as JSON or a shorthand:
 * `distributed:Z` (noise multiplier Z, every client adds its share), `local:EPS` (each report
 * epsilon-DP on its own), `clip:C` (clipping, no noise). `--clip-norm`, `--dp-delta` and
 * `--epsilon-budget` fill in the shorthands. Checked as the coordinator checks a task, with
 * the strategy it goes with.
 */
export function parsePrivacy(
  text: string | undefined,
  extras: { readonly clipNorm?: number; readonly delta?: number; readonly epsilonBudget?: number },
  strategy: StrategyConfig,
): PrivacySettings {
  if (text === undefined) return { mode: 'off' };
  const clipNorm = extras.clipNorm ?? DP_DEFAULTS.clipNorm;
  const common = {
    delta: extras.delta ?? DP_DEFAULTS.delta,
    epsilonBudget: extras.epsilonBudget ?? DP_DEFAULTS.epsilonBudget,
  };
  let block: unknown;
  const [kind, arg] = text.split(':');
  if (text.trim().startsWith('{')) {
    try {
      block = JSON.parse(text);
    } catch (err) {
      throw new BenchError('INVALID_OPTION', `"--dp" is not valid JSON: ${(err as Error).message}`);
    }
  } else if (kind === 'distributed') {
    block = { mode: 'distributed', noiseMultiplier: Number(arg ?? 1), clipNorm, ...common };
  } else if (kind === 'local') {
    block = { mode: 'local', epsilonPerReport: Number(arg ?? 1), clipNorm, ...common };
  } else if (kind === 'clip') {
    block = { mode: 'off', clipNorm: Number(arg ?? clipNorm) };
  } else {
    throw new BenchError(
      'INVALID_OPTION',
      `"--dp" expected distributed:Z, local:EPSILON, clip:C or a JSON privacy block, got ${text}`,
    );
  }
  try {
    const settings = validatePrivacySettings(block);
    checkPrivacyCompatibility(settings, strategy);
    return settings;
  } catch (err) {
    throw new BenchError('INVALID_OPTION', `"--dp ${text}": ${(err as Error).message}`);
  }
}
