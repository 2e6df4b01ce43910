/** A baseline the coordinator scored on the task's held-out set, keyed as the task's metrics. */
export interface Baseline {
  readonly name: string;
  readonly metrics: Readonly<Record<string, number>>;
}

/**
 * The baselines of a task's held-out data (GET /api/tasks/:id/held-out, operator token): the
 * built-in data's unigram and bigram models for next-character text, the majority class for
 * labelled messages; none for uploaded or absent held-out data. Anything malformed is dropped.
 */
export async function loadBaselines(taskId: string, token: string): Promise<Baseline[]> {
  const res = await fetch(`/api/tasks/${encodeURIComponent(taskId)}/held-out`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return res.ok ? parseBaselines(await res.json()) : [];
}

/** The well-formed baselines of a held-out answer (a name and finite metric values); the rest dropped. */
export function parseBaselines(body: unknown): Baseline[] {
  const baselines = (body as { baselines?: unknown } | null)?.baselines;
  if (!Array.isArray(baselines)) return [];
  return baselines.filter(
    (b): b is Baseline =>
      typeof b?.name === 'string' &&
      typeof b.metrics === 'object' &&
      b.metrics !== null &&
      Object.values(b.metrics).every((v) => typeof v === 'number' && Number.isFinite(v)),
  );
}

/** The baselines that score a metric, as `name value` pairs for a chart's note. */
export function baselinesOf(
  baselines: readonly Baseline[],
  metric: string,
): { name: string; value: number }[] {
  return baselines.flatMap((b) =>
    b.metrics[metric] === undefined ? [] : [{ name: b.name, value: b.metrics[metric]! }],
  );
}
