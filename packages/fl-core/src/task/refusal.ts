import { expect } from 'vitest';
import { PollenError } from '../errors.ts';
import { validateTaskSpec } from '../task.ts';

/**
 * For tests of the task schema: 'ok' when `input` validates, else the message it was refused
 * with, after checking the refusal is a PollenError with INVALID_TASK.
 */
export function refusal(input: unknown): string {
  try {
    validateTaskSpec(input);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(PollenError);
    expect((err as PollenError).code).toBe('INVALID_TASK');
    return (err as Error).message;
  }
}
