import type { SimOptions } from './options.ts';
import { trainableFor } from './trainable-option.ts';

/** The id of the task every simulation creates in its own fresh coordinator. */
export const SIM_TASK_ID = 'sim';

/** The rounds block of a simulation: its cohort, deadline, rounds and schedule. */
function simRounds(o: SimOptions, deadlineMs = o.deadlineMs): Record<string, unknown> {
  const cohortSize = o.cohortSize;
  return {
    cohortSize,
    minReports: Math.min(o.minReports, cohortSize),
    // Wait for a full cohort: churned clients come back within seconds.
    minClients: cohortSize,
    overSelection: o.overSelection,
    deadlineMs,
    maxRounds: o.rounds,
    ...(o.schedule.mode === 'buffered'
      ? { mode: 'buffered', bufferSize: o.schedule.bufferSize, concurrency: o.schedule.concurrency }
      : { maxInFlight: o.schedule.maxInFlight }),
  };
}

/**
 * The task JSON a simulation hands to its coordinator (`--task FILE`): the fields of the
 * default MNIST task it changes, resolved by the coordinator like any task file.
 */
export function simTask(o: SimOptions): Record<string, unknown> {
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
      ...(o.trainable ? { trainable: trainableFor(o.trainable, o.model) } : {}),
    },
    rounds: simRounds(o),
    codec: o.codec,
    compression: o.compression,
    strategy: o.strategy,
    privacy: o.privacy,
    ...(o.secureAggregation ? { secureAggregation: true } : {}),
    ...evaluationBlock(o),
    maxUpdateNorm: 1000,
  };
}

/**
 * The task JSON of `--task next-char|spam`: the built-in task file's fields, with the
 * simulation's id, rounds and the flags given (as for a task file), and its data's partition,
 * shards and seed when --partition, --shards or --seed say so.
 */
export function builtinSimTask(o: SimOptions, file: Record<string, unknown>): Record<string, unknown> {
  const given = new Set(o.given);
  const data = { ...(file.data as Record<string, unknown>) };
  if (given.has('partition')) data.partition = o.partition;
  if (given.has('shards')) data.numShards = o.shards;
  if (given.has('seed')) data.seed = o.seed;
  return { ...openSimTask(o, file, {}), name: `Simulation: ${file.name}`, data };
}

/**
 * The task JSON of `--task FILE --data FILE`: the task file's own fields (a task naming its
 * target has no built-in data: clients train on their part of the data file), with the
 * simulation's id, rounds and data-file columns, and each field a flag was given for replaced
 * by the flag's value.
 */
export function openSimTask(
  o: SimOptions,
  file: Record<string, unknown>,
  columns: Record<string, unknown>,
): Record<string, unknown> {
  const given = new Set(o.given);
  const has = (...flags: string[]): boolean => flags.some((f) => given.has(f));
  const own = file.training as Record<string, unknown> | undefined;
  // A task file without training takes the simulation's (flags or defaults) whole.
  const training: Record<string, unknown> = own
    ? { ...own }
    : { epochs: o.epochs, batchSize: o.batchSize, learningRate: o.learningRate, optimizer: o.optimizer };
  if (has('epochs')) training.epochs = o.epochs;
  if (has('batch')) training.batchSize = o.batchSize;
  if (has('lr')) training.learningRate = o.learningRate;
  if (has('optimizer')) training.optimizer = o.optimizer;
  if (o.trainable) training.trainable = trainableFor(o.trainable, has('model') ? o.model : file.model);
  // A task file's own deadline holds unless --deadline says otherwise: its author sized it for
  // its model (the pretrained transformer's rounds take minutes where MNIST's take seconds).
  const fileDeadline = (file.rounds as { deadlineMs?: unknown } | undefined)?.deadlineMs;
  const deadlineMs = !has('deadline') && typeof fileDeadline === 'number' ? fileDeadline : o.deadlineMs;
  return {
    ...file,
    id: SIM_TASK_ID,
    ...(Object.keys(columns).length > 0 ? { columns } : {}),
    rounds: simRounds(o, deadlineMs),
    training,
    ...(has('model') ? { model: o.model } : {}),
    ...(has('compression') ? { codec: o.codec, compression: o.compression } : {}),
    ...(has('strategy') ? { strategy: o.strategy } : {}),
    ...(has('dp') ? { privacy: o.privacy } : {}),
    ...(o.secureAggregation ? { secureAggregation: true } : {}),
    ...evaluationBlock(o),
  };
}

/**
 * The task's evaluation block: the devices' held-out share (`--device-held-out`) and, with
 * `--federated-eval N`, evaluation rounds every N versions over every client, half of them reporting enough.
 */
function evaluationBlock(o: SimOptions): { evaluation?: Record<string, unknown> } {
  if (o.deviceHeldOut <= 0) return {};
  const federated =
    o.federatedEvery > 0
      ? {
          every: o.federatedEvery,
          cohortSize: o.clients,
          minReports: Math.ceil(o.clients / 2),
          deadlineMs: o.deadlineMs,
        }
      : null;
  return {
    evaluation: {
      heldOutFraction: o.deviceHeldOut,
      ...(o.heldOutSplit.kind === 'hash' ? {} : { heldOutSplit: o.heldOutSplit }),
      ...(federated ? { federated } : {}),
    },
  };
}
