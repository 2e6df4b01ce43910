import { PollenError } from './errors.ts';
import { expectObject } from './validate.ts';

/**
 * Who may join a task. `joinToken`: every contributor presents a short-lived token signed by
 * the host site's backend for its own signed-in users (a JWT whose audience is the task id,
 * checked in the Socket.io handshake; docs/protocol.md). Absent in a task description: anyone
 * who opens the page may contribute.
 */
export interface AdmissionSettings {
  readonly joinToken: boolean;
}

/** Check a task description's `admission` block; undefined when absent (open admission). */
export function validateAdmission(input: unknown): AdmissionSettings | undefined {
  if (input === undefined) return undefined;
  const obj = expectObject('admission', input, 'INVALID_TASK');
  for (const key of Object.keys(obj)) {
    if (key !== 'joinToken') throw new PollenError('INVALID_TASK', `"admission.${key}" is not a setting`);
  }
  if (typeof obj.joinToken !== 'boolean') {
    throw new PollenError(
      'INVALID_TASK',
      `"admission.joinToken" expected boolean, got ${typeof obj.joinToken}`,
    );
  }
  return { joinToken: obj.joinToken };
}
