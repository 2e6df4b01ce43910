import { PollenError } from '../errors.ts';

/**
 * For tests of task settings: the MNIST task in the legacy shape (task/legacy.ts), with
 * `extra`'s fields over it.
 */
export function digitsTask(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    id: 'digits',
    name: 'digits',
    modelTopology: {},
    inputShape: [784],
    numClasses: 10,
    dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 10 },
    training: { epochs: 1, batchSize: 32, learningRate: 0.1 },
    rounds: { cohortSize: 10, minReports: 5, deadlineMs: 60_000 },
    ...extra,
  };
}

/** 'ok' when `fn` returns, `CODE: message` when it throws a PollenError, 'other' for anything else. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof PollenError ? `${err.code}: ${err.message}` : 'other';
  }
}
