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
 * Default neighbourhood size: 2 * ceil(log2 n), capped at n - 1. Bell et al. ("Secure
 * Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS 2020) show k = O(log n)
 * suffices; the constant trades drop-out tolerance and collusion resistance for cost.
 */
export function defaultSecAggNeighbours(n: number): number {
  expectInt('n', n, 3, MAX_CLIENTS);
  return Math.min(n - 1, 2 * Math.ceil(Math.log2(n)));
}

/**
 * Default threshold: a strict majority of the neighbourhood, floor(k/2) + 1. Only then can no
 * server, even one that tells different neighbours different stories about who dropped, collect
 * t shares of a client's self-mask seed and t of its mask key from disjoint sets of honest
 * neighbours (Bonawitz et al. 2017's t > n/2, applied per neighbourhood as in Bell et al.
 * 2020). The price is drop-out tolerance: with k = 2 ceil(log2 n) it survives about 10% random
 * drop-outs, not 30% (a neighbourhood then too often keeps fewer than t survivors, and on the
 * ring k/2 consecutive drop-outs end the round). Where more drop-outs are expected and the
 * server is trusted to report them honestly, lower t (k/4 survives 30% at n = 50..200) or
 * raise k.
 */
export function defaultSecAggThreshold(k: number): number {
  expectInt('k', k, 2, MAX_CLIENTS);
  return Math.floor(k / 2) + 1;
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
