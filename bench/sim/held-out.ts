import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIM_HELD_OUT_ENV } from '@pollen/coordinator';
import { type ExampleSet, type ExampleTask, encodeExampleSet } from '@pollen/ml';

/**
 * The one place the simulation gives its coordinator the held-out split. Until the coordinator
 * takes `PUT /api/tasks/:id/held-out`, the examples go in a file of @pollen/ml's example
 * codec that the coordinator process is started with, named by SIM_HELD_OUT_ENV (its
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
    env: { [SIM_HELD_OUT_ENV]: path },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
