import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  checkSchema,
  expectObject,
  ModelPathSchema,
  PollenError,
  type TaskSpec,
  upgradeLegacyTask,
} from '@pollen/fl-core';
import { modelFromArtifacts } from '@pollen/ml/artifacts';
import { defaultTaskSpec, MNIST_INPUT } from './default-task.ts';
import { readModelArtifacts } from './model/read-artifacts.ts';
import { TASKS_DIR } from './package-dir.ts';

const MAX_TASK_FILE_BYTES = 4 * 1024 * 1024;

/** Fields of the default task that belong to its target (MNIST's 10 classes), not to every task. */
const TARGET_DEFAULTS = ['loss', 'metrics', 'data'] as const;

/**
 * Resolve a task description: fields given replace those of the default MNIST task. A task
 * that names its own `target` takes none of MNIST's target-bound defaults (its loss, metrics
 * and demo digits): loss and metrics then default by target kind, and it has no built-in data
 * unless it names some. A built-in CNN (`model: { kind: 'cnn' }`) given without an `input`
 * reads the digits as 28x28x1 images. The result is validated like any task.
 */
export async function resolveTaskInput(input: unknown): Promise<TaskSpec> {
  const given = expectObject('task', input, 'INVALID_TASK');
  // Fields of earlier versions (`dataset`, `modelTopology`, ...) are read as today's before
  // they replace the default task's.
  const obj = { ...(upgradeLegacyTask(given) as Record<string, unknown>) };
  const model = obj.model as { kind?: unknown } | undefined;
  if (model?.kind === 'cnn' && obj.input === undefined) obj.input = { ...MNIST_INPUT, shape: [28, 28, 1] };
  if ('target' in given) {
    for (const key of TARGET_DEFAULTS) if (!(key in obj)) obj[key] = undefined;
  }
  return defaultTaskSpec(obj);
}

/**
 * A task file's `model: { "path": "./model.json" }`: the model saved by tfjs next to it (the
 * path relative to the task file), read with its weight files and checked as an upload is.
 */
function resolveModelPath(json: unknown, taskFile: string): unknown {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return json;
  const task = json as Record<string, unknown>;
  const model = task.model;
  if (model === null || typeof model !== 'object' || !('path' in model)) return json;
  checkSchema(ModelPathSchema, model, 'INVALID_TASK', 'model');
  const path = resolve(dirname(taskFile), (model as { path: string }).path);
  const { json: modelJson, files } = readModelArtifacts(path);
  return { ...task, model: modelFromArtifacts(modelJson, files) };
}

/** Read a task JSON file; a `model.path` names a model.json relative to it. */
export function readTaskFile(path: string): unknown {
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
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PollenError('INVALID_TASK', `task file ${path} is not JSON: ${(err as Error).message}`);
  }
}

/** The built-in tasks (docs/tasks.md), each a task file in the package's tasks/ folder. */
export const BUILTIN_TASKS = ['next-char', 'next-char-finetune', 'spam'] as const;
export type BuiltinTask = (typeof BUILTIN_TASKS)[number];

/** The task file of a built-in task. */
export function builtinTaskFile(name: BuiltinTask): string {
  return join(TASKS_DIR, `${name}.json`);
}

/**
 * What `--task` names: a built-in task's file for its name (`--task next-char`) unless a file
 * of that name is there, else the path as given.
 */
export function taskFilePath(value: string): string {
  const builtin = (BUILTIN_TASKS as readonly string[]).includes(value) && !existsSync(value);
  return builtin ? builtinTaskFile(value as BuiltinTask) : value;
}

/** Read and resolve a task JSON file (or a built-in task by name), its model.json (when it names one) included. */
export async function loadTaskFile(path: string): Promise<TaskSpec> {
  const file = taskFilePath(path);
  return resolveTaskInput(resolveModelPath(readTaskFile(file), file));
}
