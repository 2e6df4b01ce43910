import { PollenError } from '../errors.ts';
import { expectInt, expectObject } from '../validate.ts';

/**
 * The public parameters of one secure-aggregation round, fixed by the server before stage 0
 * and sent to every selected client with the round configuration.
 */
export interface SecAggParams {
  /** Cohort size; clients are numbered 0..n-1 for this round. */
  readonly n: number;
  /** Vector length: every client masks exactly d words mod 2^32. */
  readonly d: number;
  /** Neighbours per client on the ring (Bell et al. 2020); n - 1 means everyone (plain SecAgg). */
  readonly k: number;
  /** Shares needed to reconstruct a client's secret; fewer survivors abort the round. */
  readonly threshold: number;
  /** 32 public random bytes: they lay out the ring and bind every derived key to this round. */
  readonly seed: Uint8Array;
}

/** What a caller supplies; `k` and `threshold` default as documented on their helpers. */
export interface SecAggParamsInput {
  readonly n: number;
  readonly d: number;
  readonly seed: Uint8Array;
  readonly k?: number;
  readonly threshold?: number;
}

/** Largest cohort: the ring layout costs O(n) and ids travel as 32-bit integers. */
export const MAX_CLIENTS = 1_000_000;
/** Largest vector: 2^26 words is 256 MiB per mask. */
export const MAX_DIMENSION = 2 ** 26;

/**
 * Default neighbourhood size: 2 * ceil(1.5 * log2 n), about 3 log2 n, capped at n - 1.
 * Bell et al. ("Secure Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS 2020)
 * show k = O(log n) suffices; the constant trades drop-out tolerance and collusion resistance
 * for cost (a client computes k pairwise masks). With 2 log2 n no threshold gives both: t
 * low enough to survive 30% drop-outs (k/4) lets a server colluding with 5% of the clients
 * rebuild the mask key of ~0.7% of them; at 3 log2 n, t = k/3 survives 30% drop-outs in all
 * but ~1% of rounds (n = 50..1000, union bound over the clients) and exposes ~1e-5 of them.
 * See docs/design.md, "Secure aggregation" (the threshold trade-off), for the table.
 */
export function defaultSecAggNeighbours(n: number): number {
  expectInt('n', n, 3, MAX_CLIENTS);
  return Math.min(n - 1, 2 * Math.ceil(1.5 * Math.log2(n)));
}

/**
 * Default threshold: a third of the neighbourhood, max(2, ceil(k / 3)).
 *
 * What t buys. Every secret of a client is split among its k neighbours, and the server
 * legitimately learns t shares of one of them (the self-mask seed of a survivor, the mask key
 * of a drop-out). So (1) a round survives as long as every client keeps t neighbours to the
 * end: t small is drop-out tolerance; (2) a server colluding with t of a client's neighbours
 * learns its other secret too, hence its input: t large is collusion resistance; (3) a server
 * that lies, telling some neighbours that u survived and others that u dropped, collects both
 * secrets from 2t honest neighbours unless 2t > k (Bonawitz et al. 2017, t > n/2 with their
 * consistency check; Bell et al. 2020 apply it per neighbourhood).
 *
 * Pollen's clients do not authenticate one another (no PKI: the coordinator admits whoever
 * connects), so a malicious coordinator can surround a target with clients of its own making
 * whatever t is; the protocol here is the semi-honest variant, and against an honest-but-
 * curious coordinator (3) does not arise. A majority threshold floor(k/2) + 1 would cost the
 * drop-out tolerance the project needs: at k = 3 log2 n it aborts most rounds with 30%
 * drop-outs (about 10% is its limit). So the default is k/3, which survives 30% drop-outs and
 * keeps (2) small; a deployment that authenticates clients and wants (3) sets `threshold` to
 * floor(k/2) + 1 and raises k (or accepts ~10% drop-outs).
 */
export function defaultSecAggThreshold(k: number): number {
  expectInt('k', k, 2, MAX_CLIENTS);
  return Math.max(2, Math.ceil(k / 3));
}

/** Validate a round's parameters and fill in the defaults. */
export function secAggParams(input: SecAggParamsInput): SecAggParams {
  expectObject('params', input);
  const n = expectInt('n', input.n, 3, MAX_CLIENTS);
  const d = expectInt('d', input.d, 1, MAX_DIMENSION);
  if (!(input.seed instanceof Uint8Array) || input.seed.length !== 32) {
    throw new PollenError('INVALID_ARGUMENT', '"seed" expected 32 bytes');
  }
  const k = input.k === undefined ? defaultSecAggNeighbours(n) : expectInt('k', input.k, 2, n - 1);
  if (k < n - 1 && k % 2 !== 0) {
    throw new PollenError('INVALID_ARGUMENT', `"k" expected an even number below n - 1 or n - 1, got ${k}`);
  }
  const threshold =
    input.threshold === undefined ? defaultSecAggThreshold(k) : expectInt('threshold', input.threshold, 2, k);
  return { n, d, k, threshold, seed: input.seed.slice() };
}
