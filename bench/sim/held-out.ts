import type { ExampleSet, ExampleTask } from '@pollen/ml';
import { inputSize, labelSize } from '@pollen/ml';
import { BenchError } from '../lib/errors.ts';
import type { CoordinatorProcess } from './coordinator.ts';

/** Examples as JSON lines (`{"x": [...], "y": [...]}`), the data file format of docs/tasks.md. */
export function jsonLinesOf(task: ExampleTask, set: ExampleSet): string {
  const xs = inputSize(task.input);
  const ys = labelSize(task);
  const classId = task.target.kind === 'class';
  const lines: string[] = [];
  for (let i = 0; i < set.count; i++) {
    const x = Array.from(set.x.subarray(i * xs, (i + 1) * xs));
    const y = Array.from(set.y.subarray(i * ys, (i + 1) * ys));
    lines.push(JSON.stringify({ x, y: classId ? y[0] : y }));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Give the simulation's coordinator its held-out split: `PUT /api/tasks/:id/held-out` with the
 * examples as JSON lines (already checked against the task when the data file was read, so
 * the task's CSV columns do not matter here). Every version committed afterwards is evaluated
 * on it; the untrained version 0, evaluated when the task was created, has no figures.
 */
export async function uploadHeldOut(
  coordinator: CoordinatorProcess,
  taskId: string,
  task: ExampleTask,
  set: ExampleSet,
): Promise<{ count: number }> {
  const res = await fetch(`${coordinator.url}/api/tasks/${taskId}/held-out`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${coordinator.token}`, 'content-type': 'application/x-ndjson' },
    body: jsonLinesOf(task, set),
  });
  if (!res.ok) {
    throw new BenchError('COORDINATOR_FAILED', `PUT held-out: ${res.status} ${await res.text()}`);
  }
  return (await res.json()) as { count: number };
}
