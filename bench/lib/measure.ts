import { median } from './stats.ts';

/**
 * Operations per second of `batch(n)` (which performs n operations), as the median of `runs`
 * timed runs of about `targetMs` each. One untimed warm-up lets the JIT settle first, and
 * calibrates n.
 */
export function opsPerSecond(batch: (n: number) => void, runs: number, targetMs = 400): number {
  let n = 1;
  for (;;) {
    const start = performance.now();
    batch(n);
    const ms = performance.now() - start;
    if (ms >= targetMs / 4 || n >= 1 << 20) {
      n = Math.max(1, Math.round((n * targetMs) / Math.max(ms, 1e-3)));
      break;
    }
    n *= 4;
  }
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    batch(n);
    rates.push((n * 1000) / (performance.now() - start));
  }
  return median(rates);
}
