import type { SimOptions } from './options.ts';

/** The id of the task every simulation creates in its own fresh coordinator. */
export const SIM_TASK_ID = 'sim';

/**
 * The task JSON a simulation hands to its coordinator (`--task FILE`): the fields of the
 * default MNIST task it changes, resolved by the coordinator like any task file.
 */
export function simTask(o: SimOptions): Record<string, unknown> {
  const cohortSize = o.cohortSize;
  return {
    id: SIM_TASK_ID,
    name: `Simulation: ${o.clients} ${o.mode} clients`,
    description: 'A population simulated by pnpm sim.',
    model: o.model,
    dataset: { name: 'mnist', partition: o.partition, numShards: o.shards, seed: o.seed },
    training: {
      epochs: o.epochs,
      batchSize: o.batchSize,
      learningRate: o.learningRate,
      optimizer: o.optimizer,
    },
    rounds: {
      cohortSize,
      minReports: Math.min(o.minReports, cohortSize),
      // Wait for a full cohort: churned clients come back within seconds.
      minClients: cohortSize,
      overSelection: o.overSelection,
      deadlineMs: o.deadlineMs,
      maxRounds: o.rounds,
      ...(o.schedule.mode === 'buffered'
        ? { mode: 'buffered', bufferSize: o.schedule.bufferSize, concurrency: o.schedule.concurrency }
        : { maxInFlight: o.schedule.maxInFlight }),
    },
    codec: o.codec,
    compression: o.compression,
    strategy: o.strategy,
    privacy: o.privacy,
    maxUpdateNorm: 1000,
  };
}
