import { utf8ToBytes } from '@noble/hashes/utils.js';
import { PollenError } from '../errors.ts';
import type { SecAggParams } from './params.ts';
import { chachaRandomBytes } from './random.ts';

/**
 * The SecAgg+ communication graph (Bell et al., "Secure Single-Server Aggregation with
 * (Poly)Logarithmic Overhead", CCS 2020): clients sit on a ring in a random order drawn
 * from the round's public seed, and each is a neighbour of the k/2 clients on either side.
 * Clients share their secrets and agree on pairwise masks with their neighbours only, which
 * takes SecAgg's per-client cost from O(n) to O(k). The graph is symmetric (u ~ v iff v ~ u),
 * which pairwise masks need to cancel, and with k >= n - 1 it is complete: plain SecAgg of
 * Bonawitz et al. 2017. Server and clients rebuild it from the seed and agree without talking.
 */
export class NeighbourGraph {
  readonly n: number;
  readonly k: number;
  /** Client at each ring position. */
  readonly #order: Uint32Array;
  /** Ring position of each client. */
  readonly #position: Uint32Array;

  constructor(n: number, k: number, seed: Uint8Array) {
    if (!Number.isInteger(n) || n < 2)
      throw new PollenError('INVALID_ARGUMENT', `"n" expected >= 2, got ${n}`);
    if (!Number.isInteger(k) || k < 1 || k > n - 1 || (k < n - 1 && k % 2 !== 0)) {
      throw new PollenError('INVALID_ARGUMENT', `"k" expected an even number below n - 1 or n - 1, got ${k}`);
    }
    this.n = n;
    this.k = k;
    this.#order = ringOrder(n, seed);
    this.#position = new Uint32Array(n);
    for (let p = 0; p < n; p++) this.#position[this.#order[p]!] = p;
  }

  /** The graph of a round. */
  static of(params: SecAggParams): NeighbourGraph {
    return new NeighbourGraph(params.n, params.k, params.seed);
  }

  /** Whether u and v are distinct neighbours. */
  areNeighbours(u: number, v: number): boolean {
    if (u === v) return false;
    if (this.k >= this.n - 1) return true;
    const gap = Math.abs(this.#position[u]! - this.#position[v]!);
    return Math.min(gap, this.n - gap) <= this.k / 2;
  }

  /** The k neighbours of client u, ascending. */
  neighbours(u: number): number[] {
    if (!Number.isInteger(u) || u < 0 || u >= this.n) {
      throw new PollenError('INVALID_ARGUMENT', `client id expected integer in [0, ${this.n - 1}], got ${u}`);
    }
    const out: number[] = [];
    if (this.k >= this.n - 1) {
      for (let v = 0; v < this.n; v++) if (v !== u) out.push(v);
      return out;
    }
    const p = this.#position[u]!;
    for (let step = 1; step <= this.k / 2; step++) {
      out.push(this.#order[(p + step) % this.n]!, this.#order[(p - step + this.n) % this.n]!);
    }
    return out.sort((a, b) => a - b);
  }
}

const RING_NONCE = utf8ToBytes('pollen-ring\0');

/** A uniform permutation of 0..n-1: Fisher-Yates on the ChaCha20 stream of the seed. */
function ringOrder(n: number, seed: Uint8Array): Uint32Array {
  const next = wordReader(chachaRandomBytes(seed, RING_NONCE));
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    // Rejection sampling: uniform in [0, i] without modulo bias.
    const range = i + 1;
    const limit = 2 ** 32 - (2 ** 32 % range);
    let x = next();
    while (x >= limit) x = next();
    const j = x % range;
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

function wordReader(randomBytes: (length: number) => Uint8Array): () => number {
  let view: DataView = new DataView(new ArrayBuffer(0));
  let at = 0;
  return (): number => {
    if (at >= view.byteLength) {
      const bytes = randomBytes(4096);
      view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      at = 0;
    }
    const word = view.getUint32(at, true);
    at += 4;
    return word;
  };
}
