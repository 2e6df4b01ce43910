import { equalBytes } from '@noble/curves/utils.js';
import { PollenError } from '../errors.ts';
import { expectInt } from '../validate.ts';
import type { SecAggStage } from './client.ts';
import { nobleSecAggCrypto, type SecAggCrypto } from './crypto.ts';
import { NeighbourGraph } from './graph.ts';
import { agree, pairMaskSeed, publicKeyOf } from './keys.ts';
import {
  type AdvertiseMessage,
  type DeliveryMessage,
  type KeysMessage,
  parseAdvertise,
  parseMaskedInput,
  parseShares,
  parseUnmaskResponse,
  type RevealedShare,
  type UnmaskRequest,
} from './messages.ts';
import { type SecAggParams, secAggParams } from './params.ts';
import { addMask } from './prg.ts';
import { decodeShareValue, type ShamirShare, shamirCombine } from './shamir.ts';

/** What a finished round releases: the sum of the contributors' inputs and who they are. */
export interface SecAggResult {
  /** sum over `contributors` of their inputs, mod 2^32. */
  readonly sum: Uint32Array;
  /** Clients whose masked input is in the sum (U3), ascending. */
  readonly contributors: readonly number[];
  /** Clients that shared keys but sent no masked input; their masks were removed (U2 \ U3). */
  readonly dropped: readonly number[];
}

/**
 * The server side of one SecAgg+ round (Bonawitz et al., CCS 2017, semi-honest
 * variant, with the neighbour graph of Bell et al., CCS 2020), transport-free. For each stage
 * the coordinator feeds every client message to `receive*` with the id it bound to the socket,
 * then, when all expected clients answered (`pending()` is empty) or the stage deadline passed,
 * calls `close*` and sends each client its entry of the returned map; the clients without one
 * are out of the round. After the unmask stage, `finish()` (as soon as `canFinish()`) returns
 * the sum. Nothing but public keys, ciphertexts, masked vectors and the shares needed for
 * unmasking ever reaches the server, and it sums masked vectors as they arrive.
 *
 * Drop-outs: a client silent at a stage is dropped at its close. Clients left with fewer than
 * t neighbours are excluded at the key stages; when some client's secret can no longer get t
 * shares the server aborts with SECAGG_ABORTED, before requesting any share when it can
 * tell at `closeMaskedInput`, and releases nothing. Any server input is validated first:
 * malformed (INVALID_MESSAGE, SHAPE_MISMATCH), from a client not expected at this stage
 * (NOT_IN_ROUND), a second message (REPLAY), or outside its stage (SECAGG_STAGE).
 */
export class SecAggServer {
  readonly params: SecAggParams;
  readonly graph: NeighbourGraph;
  #stage: SecAggStage = 'advertise';
  readonly #keys = new Map<number, AdvertiseMessage>();
  #u1: ReadonlySet<number> = new Set();
  /** Stage 1 ciphertexts: sender -> recipient -> ciphertext. */
  #sent = new Map<number, Map<number, Uint8Array>>();
  #u2: ReadonlySet<number> = new Set();
  /** Mask partners of each member of U2: its neighbours in U2. */
  readonly #partners = new Map<number, number[]>();
  readonly #u3 = new Set<number>();
  #sum: Uint32Array = new Uint32Array(0);
  readonly #requests = new Map<number, UnmaskRequest>();
  readonly #responded = new Set<number>();
  readonly #selfMaskShares = new Map<number, ShamirShare[]>();
  readonly #keyShares = new Map<number, ShamirShare[]>();

  readonly #crypto: SecAggCrypto;

  /**
   * A server for one round; `params` are validated again here, since anyone may build them.
   * `crypto` expands and agrees on the masks it removes (crypto.ts; the coordinator passes
   * Node's native one): any implementation unmasks what clients with another one masked.
   */
  constructor(params: SecAggParams, crypto: SecAggCrypto = nobleSecAggCrypto) {
    this.params = secAggParams(params);
    this.#crypto = crypto;
    this.graph = NeighbourGraph.of(this.params);
  }

  /** The stage whose messages this server accepts. */
  get stage(): SecAggStage {
    return this.#stage;
  }

  /** Clients expected at the current stage that have not answered yet, ascending. */
  pending(): number[] {
    switch (this.#stage) {
      case 'advertise':
        return Array.from({ length: this.params.n }, (_, id) => id).filter((id) => !this.#keys.has(id));
      case 'share':
        return sorted(this.#u1).filter((id) => !this.#sent.has(id));
      case 'mask':
        return sorted(this.#u2).filter((id) => !this.#u3.has(id));
      case 'unmask':
        return sorted(this.#u3).filter((id) => !this.#responded.has(id));
      default:
        return [];
    }
  }

  /** Stage 0: a client's public keys. */
  receiveAdvertise(from: number, message: unknown): void {
    this.#expect('advertise');
    const id = this.#sender(from, null);
    if (this.#keys.has(id)) throw new PollenError('REPLAY', `client ${id} already advertised`);
    this.#keys.set(id, parseAdvertise(message));
  }

  /** End stage 0: U1 is the advertisers with at least t advertising neighbours; keys for each. */
  closeAdvertise(): Map<number, KeysMessage> {
    this.#expect('advertise');
    this.#u1 = this.#peel(new Set(this.#keys.keys()), 'advertised');
    const out = new Map<number, KeysMessage>();
    for (const u of sorted(this.#u1)) {
      const neighbours = this.#among(u, this.#u1).map((v) => ({ id: v, ...this.#keys.get(v)! }));
      out.set(u, { neighbours });
    }
    this.#stage = 'share';
    return out;
  }

  /** Stage 1: a client's encrypted shares, one for each neighbour in U1, to route. */
  receiveShares(from: number, message: unknown): void {
    this.#expect('share');
    const id = this.#sender(from, this.#u1);
    if (this.#sent.has(id)) throw new PollenError('REPLAY', `client ${id} already sent shares`);
    const { shares } = parseShares(message, this.params.n);
    const expected = this.#among(id, this.#u1);
    const byRecipient = new Map(shares.map(({ peer, ciphertext }) => [peer, ciphertext]));
    if (shares.length !== expected.length || !expected.every((v) => byRecipient.has(v))) {
      throw new PollenError(
        'INVALID_MESSAGE',
        `client ${id} must send one ciphertext per advertised neighbour`,
      );
    }
    this.#sent.set(id, byRecipient);
  }

  /**
   * End stage 1: U2 is the clients that shared, less those left with fewer than t sharing
   * neighbours; each gets the ciphertexts its U2 neighbours (its mask partners) sent it.
   */
  closeShares(): Map<number, DeliveryMessage> {
    this.#expect('share');
    this.#u2 = this.#peel(new Set(this.#sent.keys()), 'shared keys');
    const out = new Map<number, DeliveryMessage>();
    for (const v of sorted(this.#u2)) {
      const partners = this.#among(v, this.#u2);
      this.#partners.set(v, partners);
      out.set(v, { shares: partners.map((u) => ({ peer: u, ciphertext: this.#sent.get(u)!.get(v)! })) });
    }
    this.#sent = new Map();
    this.#sum = new Uint32Array(this.params.d);
    this.#stage = 'mask';
    return out;
  }

  /** Stage 2: a client's masked input, added to the running sum at once. */
  receiveMaskedInput(from: number, message: unknown): void {
    this.#expect('mask');
    const id = this.#sender(from, this.#u2);
    if (this.#u3.has(id)) throw new PollenError('REPLAY', `client ${id} already sent its masked input`);
    const { masked } = parseMaskedInput(message, this.params.d);
    const sum = this.#sum;
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + masked[i]!;
    this.#u3.add(id);
  }

  /**
   * End stage 2: U3 is the clients whose masked input arrived; late ones are refused from now
   * on, so no client's input can arrive after its mask key was requested. Aborts, before any
   * share is requested, when some client of U2 has fewer than t partners in U3 to recover its
   * secret from. Returns each member of U3 the request: which partners survived, which dropped.
   */
  closeMaskedInput(): Map<number, UnmaskRequest> {
    this.#expect('mask');
    const { threshold } = this.params;
    if (this.#u3.size === 0) this.#fail('no client sent a masked input');
    for (const u of sorted(this.#u2)) {
      const holders = this.#partners.get(u)!.filter((v) => this.#u3.has(v)).length;
      if (holders < threshold) {
        this.#fail(`client ${u} has ${holders} surviving partners, need ${threshold}`);
      }
    }
    const out = new Map<number, UnmaskRequest>();
    for (const u of sorted(this.#u3)) {
      const partners = this.#partners.get(u)!;
      const request = {
        survivors: partners.filter((v) => this.#u3.has(v)),
        dropped: partners.filter((v) => !this.#u3.has(v)),
      };
      this.#requests.set(u, request);
      out.set(u, request);
    }
    this.#stage = 'unmask';
    return out;
  }

  /** Stage 3: a survivor's shares, exactly those its request asked for. */
  receiveUnmask(from: number, message: unknown): void {
    this.#expect('unmask');
    const id = this.#sender(from, this.#u3);
    if (this.#responded.has(id)) throw new PollenError('REPLAY', `client ${id} already sent its shares`);
    const { selfMaskShares, keyShares } = parseUnmaskResponse(message, this.params.n);
    const request = this.#requests.get(id)!;
    if (!samePeers(selfMaskShares, request.survivors) || !samePeers(keyShares, request.dropped)) {
      throw new PollenError('INVALID_MESSAGE', `client ${id} must answer exactly its unmask request`);
    }
    for (const { share } of [...selfMaskShares, ...keyShares]) decodeShareValue(share);
    const x = id + 1;
    for (const { peer, share } of selfMaskShares) push(this.#selfMaskShares, peer, { x, y: share });
    for (const { peer, share } of keyShares) push(this.#keyShares, peer, { x, y: share });
    this.#responded.add(id);
  }

  /** Whether the shares received so far recover every secret `finish()` needs. */
  canFinish(): boolean {
    return this.#stage === 'unmask' && this.#missing() === null;
  }

  /**
   * End stage 3: reconstruct b_u of every contributor and s_sk_v of every drop-out, remove
   * PRG(b_u) and the pairwise masks the contributors shared with drop-outs, and return the
   * sum. Aborts (SECAGG_ABORTED), releasing nothing, when a secret has fewer than t shares or
   * a reconstructed mask key does not match the public key its owner advertised.
   */
  finish(): SecAggResult {
    this.#expect('unmask');
    const missing = this.#missing();
    if (missing !== null) this.#fail(missing);
    const { threshold, seed } = this.params;
    const sum = this.#sum;
    try {
      for (const u of sorted(this.#u3))
        addMask(sum, shamirCombine(this.#selfMaskShares.get(u)!, threshold), -1, this.#crypto);
      const dropped = sorted(this.#u2).filter((v) => !this.#u3.has(v));
      for (const v of dropped) {
        const secretKey = shamirCombine(this.#keyShares.get(v)!, threshold);
        if (!equalBytes(publicKeyOf(secretKey, this.#crypto), this.#keys.get(v)!.sPk)) {
          this.#fail(`the mask key recovered for client ${v} does not match its public key`);
        }
        for (const u of this.#partners.get(v)!) {
          if (!this.#u3.has(u)) continue;
          const shared = agree(secretKey, this.#keys.get(u)!.sPk, this.#crypto);
          const pairSeed = pairMaskSeed(shared, seed, u, v);
          // y_u carries (u < v ? +1 : -1) * PRG(s_uv); take it back out.
          addMask(sum, pairSeed, u < v ? -1 : 1, this.#crypto);
        }
      }
      this.#stage = 'done';
      this.#sum = new Uint32Array(0);
      return { sum, contributors: sorted(this.#u3), dropped };
    } catch (err) {
      this.abort();
      if (err instanceof PollenError && err.code === 'SECAGG_ABORTED') throw err;
      throw new PollenError(
        'SECAGG_ABORTED',
        `unmasking failed: ${err instanceof Error ? err.message : err}`,
      );
    }
  }

  /** Abandon the round: drop the running sum and every share; later calls throw. */
  abort(): void {
    this.#stage = 'aborted';
    this.#sum.fill(0);
    this.#sum = new Uint32Array(0);
    this.#selfMaskShares.clear();
    this.#keyShares.clear();
  }

  #fail(message: string): never {
    this.abort();
    throw new PollenError('SECAGG_ABORTED', message);
  }

  #expect(stage: SecAggStage): void {
    if (this.#stage !== stage) {
      throw new PollenError(
        'SECAGG_STAGE',
        `secure aggregation is at stage "${this.#stage}", not "${stage}"`,
      );
    }
  }

  #sender(from: number, members: ReadonlySet<number> | null): number {
    const id = expectInt('from', from, 0, this.params.n - 1, 'NOT_IN_ROUND');
    if (members && !members.has(id))
      throw new PollenError('NOT_IN_ROUND', `client ${id} is not in this stage`);
    return id;
  }

  /** The neighbours of u within `members`, ascending. */
  #among(u: number, members: ReadonlySet<number>): number[] {
    return this.graph.neighbours(u).filter((v) => members.has(v));
  }

  /**
   * The largest subset of `candidates` in which everyone has at least t neighbours (the
   * t-core): a client with fewer could never have its secret reconstructed. Aborts if empty.
   */
  #peel(candidates: Set<number>, what: string): Set<number> {
    const { threshold } = this.params;
    const count = new Map<number, number>();
    const queue: number[] = [];
    for (const u of candidates) {
      const c = this.#among(u, candidates).length;
      count.set(u, c);
      if (c < threshold) queue.push(u);
    }
    for (let u = queue.pop(); u !== undefined; u = queue.pop()) {
      if (!candidates.delete(u)) continue;
      for (const v of this.graph.neighbours(u)) {
        if (!candidates.has(v)) continue;
        const c = count.get(v)! - 1;
        count.set(v, c);
        if (c === threshold - 1) queue.push(v);
      }
    }
    if (candidates.size === 0) this.#fail(`too few clients ${what} for threshold ${threshold}`);
    return candidates;
  }

  /** Why the shares so far cannot finish, or null when they can. */
  #missing(): string | null {
    const { threshold } = this.params;
    for (const u of sorted(this.#u2)) {
      const kind = this.#u3.has(u) ? 'self-mask seed' : 'mask key';
      const have = (this.#u3.has(u) ? this.#selfMaskShares : this.#keyShares).get(u)?.length ?? 0;
      if (have < threshold) return `${have} shares of the ${kind} of client ${u}, need ${threshold}`;
    }
    return null;
  }
}

function sorted(ids: Iterable<number>): number[] {
  return [...ids].sort((a, b) => a - b);
}

function samePeers(shares: readonly RevealedShare[], expected: readonly number[]): boolean {
  const want = new Set(expected);
  return shares.length === want.size && shares.every(({ peer }) => want.has(peer));
}

function push(map: Map<number, ShamirShare[]>, key: number, share: ShamirShare): void {
  const list = map.get(key);
  if (list) list.push(share);
  else map.set(key, [share]);
}
