import { readFileSync, statSync } from 'node:fs';
import { expectInt, expectObject, PollenError, type TaskSpec } from '@pollen/fl-core';
import { defaultTaskSpec } from './default-task.ts';
import { cnnTopology, mlpTopology } from './ml/topologies.ts';

const MAX_TASK_FILE_BYTES = 4 * 1024 * 1024;

/**
 * Resolve a task description: fields given replace those of the default MNIST task, and
 * `model: { kind: 'mlp', hidden: [64] }` or `{ kind: 'cnn' }` stands for a built-in
 * topology. The result is validated like any task.
 */
export async function resolveTaskInput(input: unknown): Promise<TaskSpec> {
  const obj = { ...expectObject('task', input, 'INVALID_TASK') };
  if (obj.model !== undefined) {
    const model = expectObject('model', obj.model, 'INVALID_TASK');
    if (model.kind === 'mlp') {
      const hidden = Array.isArray(model.hidden) ? model.hidden : [128];
      if (hidden.length === 0 || hidden.length > 8) {
        throw new PollenError('INVALID_TASK', '"model.hidden" expected 1..8 layer sizes');
      }
      obj.modelTopology = await mlpTopology(
        hidden.map((u, i) => expectInt(`model.hidden[${i}]`, u, 1, 4096, 'INVALID_TASK')),
      );
      obj.inputShape = [784];
    } else if (model.kind === 'cnn') {
      obj.modelTopology = await cnnTopology();
      obj.inputShape = [28, 28, 1];
    } else {
      throw new PollenError('INVALID_TASK', '"model.kind" expected mlp or cnn');
    }
    delete obj.model;
  }
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
