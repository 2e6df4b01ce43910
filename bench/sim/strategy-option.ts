import { checkCompatibility, ROBUST_KINDS, STRATEGY_NAMES, type StrategyConfig } from '@pollen/fl-core';
import { BenchError } from '../lib/errors.ts';

/** The parameter each robust rule takes after a colon (`trimmed-mean:0.1`, `krum:1`). */
const ROBUST_PARAM: Record<string, string> = {
  'trimmed-mean': 'beta',
  krum: 'f',
  'multi-krum': 'f',
  'norm-bound': 'bound',
};

/**
 * `--strategy`: a task's strategy block (docs/design.md "Aggregation strategies"), as JSON
 * (`{"name":"fedavgm","momentum":0.9}`) or as parts joined by `+`: a server optimizer
 * (`fedadam`), `fedprox:MU`, `scaffold`, a robust rule (`median`, `trimmed-mean:0.1`,
 * `krum:1`, `multi-krum:1`, `norm-bound:5`). Checked as the coordinator checks a task (fl-core's
 * `checkCompatibility`, with the round quorum and the local optimizer), so a configuration
 * it would refuse is refused here, with its message, before anything starts.
 */
export function parseStrategy(
  text: string,
  task: { readonly minReports: number; readonly optimizer: 'sgd' | 'adam' },
): StrategyConfig {
  let block: Record<string, unknown> = {};
  if (text.trim().startsWith('{')) {
    try {
      block = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new BenchError('INVALID_OPTION', `"--strategy" is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    for (const part of text.split('+')) {
      const [name = '', arg] = part.split(':');
      if ((STRATEGY_NAMES as readonly string[]).includes(name)) block.name = name;
      else if (name === 'fedprox') block.mu = Number(arg ?? 0.01);
      else if (name === 'scaffold') block.scaffold = true;
      else if ((ROBUST_KINDS as readonly string[]).includes(name)) {
        const param = ROBUST_PARAM[name];
        block.robust = { kind: name, ...(param && arg !== undefined ? { [param]: Number(arg) } : {}) };
      } else {
        throw new BenchError(
          'INVALID_OPTION',
          `"--strategy" part "${part}" expected one of ${STRATEGY_NAMES.join(', ')}, fedprox:MU, scaffold, ` +
            `${ROBUST_KINDS.filter((k) => k !== 'none').join(', ')}, or a JSON strategy block`,
        );
      }
    }
  }
  try {
    return checkCompatibility({
      strategy: block,
      // As the coordinator's task validation has it: no secure aggregation in a task yet, and
      // clients keep state (c_i) across rounds.
      secureAggregation: false,
      persistentClientState: true,
      minReports: task.minReports,
      localOptimizer: task.optimizer,
    });
  } catch (err) {
    throw new BenchError('INVALID_OPTION', `"--strategy ${text}": ${(err as Error).message}`);
  }
}
