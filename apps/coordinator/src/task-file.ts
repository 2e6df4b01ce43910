import { readFileSync, statSync } from 'node:fs';
import { expectObject, PollenError, type TaskSpec, upgradeLegacyTask } from '@pollen/fl-core';
import { defaultTaskSpec, MNIST_INPUT } from './default-task.ts';

const MAX_TASK_FILE_BYTES = 4 * 1024 * 1024;

/**
 * Resolve a task description: fields given replace those of the default MNIST task. A built-in
 * CNN (`model: { kind: 'cnn' }`) given without an `input` reads the digits as 28x28x1 images.
 * The result is validated like any task.
 */
export async function resolveTaskInput(input: unknown): Promise<TaskSpec> {
  // Fields of earlier versions (`dataset`, `modelTopology`, ...) are read as today's before
  // they replace the default task's.
  const obj = {
    ...(upgradeLegacyTask(expectObject('task', input, 'INVALID_TASK')) as Record<string, unknown>),
  };
  const model = obj.model as { kind?: unknown } | undefined;
  if (model?.kind === 'cnn' && obj.input === undefined) obj.input = { ...MNIST_INPUT, shape: [28, 28, 1] };
  return defaultTaskSpec(obj);
}

/** Read and resolve a task JSON file. */
export async function loadTaskFile(path: string): Promise<TaskSpec> {
  let text: string;
  try {
    if (statSync(path).size > MAX_TASK_FILE_BYTES) {
      throw new PollenError('INVALID_TASK', `task file ${path} exceeds ${MAX_TASK_FILE_BYTES} bytes`);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof PollenError) throw err;
    throw new PollenError('INVALID_TASK', `cannot read task file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PollenError('INVALID_TASK', `task file ${path} is not JSON: ${(err as Error).message}`);
  }
  return resolveTaskInput(json);
}
