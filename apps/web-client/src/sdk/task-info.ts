import { type EligibilitySettings, type Presentation, presentationOf, type TaskSpec } from '@pollen/fl-core';
import { decodeExampleSet, inputSize, labelSize } from '@pollen/ml';
import type { TrainTask } from '../worker/messages.ts';
import { addTaskExamples } from './examples.ts';

/** What a contributor needs of its task: what to train, how to present it, and the device's conditions. */
export interface ClientTask extends TrainTask {
  readonly presentation: Presentation;
  /** The task serves demo shards of a dataset. */
  readonly demoData: boolean;
  readonly eligibility: EligibilitySettings | null;
  /** The task's cap on the CPU share training may use. */
  readonly cpuShareCap: number;
}

/** The task's spec as the coordinator serves it (GET /api/tasks/:id). */
export async function fetchTask(base: string, taskId: string): Promise<ClientTask> {
  const res = await fetch(`${base}/api/tasks/${encodeURIComponent(taskId)}`);
  if (!res.ok) throw new Error(`task "${taskId}" is not available (${res.status})`);
  const { spec } = (await res.json()) as { spec: TaskSpec };
  return {
    model: spec.model,
    input: spec.input,
    target: spec.target,
    loss: spec.loss,
    metrics: spec.metrics,
    presentation: presentationOf(spec),
    demoData: spec.data !== undefined,
    eligibility: spec.eligibility ?? null,
    cpuShareCap: spec.training.cpuShare ?? 1,
    ...(spec.training.trainable ? { trainable: spec.training.trainable } : {}),
  };
}

/**
 * Keep this device's demo shard of the task's dataset in IndexedDB. The shard is an example set
 * of the task ('PLX1', @pollen/ml's codec), checked against it.
 */
export async function loadDemoShard(
  base: string,
  taskId: string,
  clientId: string,
  task: ClientTask,
  quotaBytes: number,
): Promise<void> {
  const res = await fetch(`${base}/api/tasks/${encodeURIComponent(taskId)}/shard/${clientId}`);
  if (!res.ok) throw new Error(`could not load the demo data (${res.status})`);
  const set = decodeExampleSet(task, new Uint8Array(await res.arrayBuffer()));
  const xs = inputSize(task.input);
  const ys = labelSize(task);
  const examples = Array.from({ length: set.count }, (_, i) => ({
    x: set.x.subarray(i * xs, (i + 1) * xs),
    y: set.y.subarray(i * ys, (i + 1) * ys),
  }));
  await addTaskExamples(taskId, task, examples, 'demo', quotaBytes);
}
