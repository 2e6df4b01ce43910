import type { StoredTask } from '../store/types.ts';
import { BufferedRunner } from './buffered-runner.ts';
import type { RunnerDeps, TaskRunner } from './runner.ts';
import { SyncRunner } from './sync-runner.ts';

/** The scheduler a task's `rounds.mode` asks for. A task's mode is fixed once it is created. */
export function createRunner(task: StoredTask, deps: RunnerDeps): TaskRunner {
  return task.spec.rounds.mode === 'buffered'
    ? new BufferedRunner(task.spec.id, deps)
    : new SyncRunner(task.spec.id, deps);
}
