import { PollenError } from '../errors.ts';
import { assertFinite, assertLength } from '../validate.ts';

/**
 * Check a batch of individual client updates before a robust aggregator looks at them: at
 * least one, all the same length, all finite (a NaN would sort past every number and poison a
 * median or a distance). Returns their dimension.
 */
export function checkUpdates(updates: readonly Float32Array[]): number {
  const first = updates[0];
  if (!first) throw new PollenError('INVALID_ARGUMENT', '"updates" expected at least one vector, got 0');
  const d = first.length;
  updates.forEach((u, k) => {
    assertLength(`updates[${k}]`, u, d);
    assertFinite(`updates[${k}]`, u);
  });
  return d;
}
