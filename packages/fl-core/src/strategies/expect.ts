import type { PollenErrorCode } from '../errors.ts';
import { PollenError } from '../errors.ts';

/**
 * A finite number in the half-open range [min, max): decay rates and trim fractions, whose
 * upper end is excluded. Same message shape as `../validate.ts`.
 */
export function expectInHalfOpen(
  name: string,
  value: unknown,
  min: number,
  max: number,
  code: PollenErrorCode = 'INVALID_ARGUMENT',
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value >= max) {
    const got = typeof value === 'number' ? String(value) : typeof value;
    throw new PollenError(code, `"${name}" expected finite number in [${min}, ${max}), got ${got}`);
  }
  return value;
}
