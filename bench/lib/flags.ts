/**
 * A non-negative number flag from `parseArgs` values, or `fallback` when absent; throws with
 * the flag's name on anything else.
 */
export function numberFlag(
  values: Record<string, string | undefined>,
  name: string,
  fallback: number,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`--${name} expected a non-negative number, got ${raw}`);
  return value;
}
