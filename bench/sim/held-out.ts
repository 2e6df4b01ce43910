import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ExampleSet, type ExampleTask, encodeExampleSet } from '@pollen/ml';

/**
 * The one place the simulation gives its coordinator the held-out split. Until the coordinator
 * takes `PUT /api/tasks/:id/held-out`, the examples go in a file of @pollen/ml's example
 * codec that the coordinator process is started with, named by POLLEN_SIM_HELD_OUT (its
 * held-out seam, docs/tasks.md#simulating-any-task); once the route exists, this becomes one
 * request after the coordinator has started.
 */
export function heldOutHandOver(
  task: ExampleTask,
  examples: ExampleSet,
): { readonly env: Record<string, string>; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pollen-sim-held-out-'));
  const path = join(dir, 'held-out.plx');
  writeFileSync(path, encodeExampleSet(task, examples));
  return {
    env: { POLLEN_SIM_HELD_OUT: path },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
