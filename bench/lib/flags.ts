import { parseArgs } from 'node:util';

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

/**
 * The `--name value` flags of a script, each a string (`numberFlag` reads numbers from them);
 * an unknown flag or a missing value throws with the script's usage.
 */
export function stringFlags(
  argv: readonly string[],
  names: readonly string[],
  usage: string,
): Record<string, string | undefined> {
  try {
    return parseArgs({
      args: [...argv],
      options: Object.fromEntries(names.map((f) => [f, { type: 'string' as const }])),
      strict: true,
    }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${usage}`);
  }
}
