import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { OPERATOR_TOKEN } from './coordinator.ts';

/**
 * Small tasks of each presentation kind (docs/tasks.md, "How the contributor's page presents a
 * task"), for the specs of the contributor page: one round of a few examples each, so a spec
 * that trains stays within seconds.
 */

const ROUNDS = { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 30_000 };

/** MNIST digits, the drawing canvas (its presentation by default). */
export const MNIST_TASK = {
  id: 'mnist-page',
  model: { kind: 'mlp', hidden: [16] },
  dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 10, seed: 1 },
  rounds: { ...ROUNDS, maxRounds: 1 },
};

/** Next character on the page's own typing: a 12-character context, an MLP over the ids. */
export const NEXT_CHAR_TASK = {
  id: 'typing',
  name: 'Next character',
  description: 'Suggests the next character as you type, learnt from what visitors type.',
  model: { kind: 'mlp', hidden: [16] },
  input: { shape: [12], dtype: 'int32' },
  target: { kind: 'class', numClasses: 28 },
  presentation: { kind: 'next-char', alphabet: 'abcdefghijklmnopqrstuvwxyz ', context: 12 },
  training: { epochs: 2, batchSize: 16, learningRate: 0.05 },
  rounds: { ...ROUNDS, maxRounds: 1 },
};

/** Spam or not, on messages pasted and labelled on the page: a 64-bucket hashed bag of words. */
export const TEXT_LABEL_TASK = {
  id: 'messages',
  name: 'Spam filter',
  description: 'Says whether a message is spam, learnt from messages visitors label.',
  model: { kind: 'mlp', hidden: [8] },
  input: { shape: [64], dtype: 'float32' },
  target: { kind: 'class', numClasses: 2 },
  presentation: { kind: 'text-label', labels: ['ham', 'spam'], features: { kind: 'hashed-bow', dims: 64 } },
  rounds: { ...ROUNDS, maxRounds: 1 },
};

/** A task whose data only the host site provides. */
export const HOST_TASK = {
  id: 'host-data',
  name: 'Host data',
  description: 'Trained on what the host site adds on each device.',
  model: { kind: 'mlp', hidden: [4] },
  input: { shape: [4], dtype: 'float32' },
  target: { kind: 'regression', shape: [1] },
  presentation: { kind: 'none' },
  rounds: { ...ROUNDS, maxRounds: 1 },
};

/** Next character on the built-in Brown corpus text (docs/tasks.md), with its n-gram baselines. */
export const BROWN_TASK = {
  ...NEXT_CHAR_TASK,
  id: 'brown-chars',
  name: 'Next character (Brown corpus)',
  input: { shape: [12], dtype: 'uint8' },
  target: { kind: 'class', numClasses: 31 },
  presentation: { kind: 'next-char', alphabet: " abcdefghijklmnopqrstuvwxyz.,'", context: 12 },
  metrics: ['accuracy', 'perplexity', { name: 'topKAccuracy', k: 3 }],
  data: { builtin: 'brown', partition: { kind: 'natural' }, numShards: 50 },
};

/** Spam or not on the built-in SpamAssassin messages, with the majority-class baseline. */
export const SPAM_TASK = {
  ...TEXT_LABEL_TASK,
  id: 'spam-filter',
  name: 'Spam filter (SpamAssassin)',
  metrics: ['accuracy', 'auc'],
  data: { builtin: 'spam-assassin', partition: { kind: 'natural' }, numShards: 20 },
};

/** A built-in task file of the coordinator (apps/coordinator/tasks: next-char, spam), as JSON. */
export function builtinTask(name: 'next-char' | 'spam'): { id: string; [field: string]: unknown } {
  const file = resolve(import.meta.dirname, `../apps/coordinator/tasks/${name}.json`);
  return JSON.parse(readFileSync(file, 'utf8')) as { id: string };
}

/** Create a task through the operator API. */
export async function createTask(url: string, task: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${url}/api/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(task),
  });
  if (!res.ok) throw new Error(`POST /api/tasks ${task.id}: ${res.status} ${await res.text()}`);
}
