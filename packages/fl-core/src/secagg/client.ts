import { PollenError } from '../errors.ts';
import { expectInt } from '../validate.ts';
import { nobleSecAggCrypto, type SecAggCrypto } from './crypto.ts';
import { NeighbourGraph } from './graph.ts';
import {
  agree,
  generateKeyPair,
  type KeyPair,
  openShares,
  pairMaskSeed,
  pairShareKey,
  sealShares,
} from './keys.ts';
import {
  type AdvertiseMessage,
  type MaskedInputMessage,
  parseDelivery,
  parseKeys,
  parseUnmaskRequest,
  type RevealedShare,
  type SharesMessage,
  type UnmaskResponse,
} from './messages.ts';
import { type SecAggParams, secAggParams } from './params.ts';
import { addMask, SEED_BYTES } from './prg.ts';
import { type RandomBytes, takeBytes } from './random.ts';
import { SHARE_BYTES, shamirSplit } from './shamir.ts';

/**
 * Where a state machine is: the stage whose input it waits for, or the end. 'aborted' is
 * final and its secrets are wiped.
 */
export type SecAggStage = 'advertise' | 'share' | 'mask' | 'unmask' | 'done' | 'aborted';

interface Peer {
  readonly cPk: Uint8Array;
  readonly sPk: Uint8Array;
  readonly shareKey: Uint8Array;
}

interface HeldShares {
  readonly selfMask: Uint8Array;
  readonly key: Uint8Array;
}

/**
 * The client side of one SecAgg+ round (Bonawitz et al., "Practical Secure Aggregation for
 * Privacy-Preserving Machine Learning", CCS 2017, semi-honest variant; neighbourhoods
 * of Bell et al., CCS 2020), transport-free: each method takes the server's message for a
 * stage and returns the client's reply, in order advertise -> shareKeys -> maskInput -> unmask.
 *
 * Any error aborts the client for good and wipes its secrets; so does `abort()`, which the
 * worker calls when the round is cancelled. A method called out of order throws SECAGG_STAGE
 * and changes nothing. The client reveals, per partner, either the share of its self-mask
 * seed or of its mask key, never both: `unmask` answers once and refuses (SECAGG_REFUSED) a
 * request that names a partner as both survivor and drop-out, or a second request.
 */
export class SecAggClient {
  readonly id: number;
  readonly params: SecAggParams;
  #stage: SecAggStage = 'advertise';
  readonly #randomBytes: RandomBytes;
  readonly #crypto: SecAggCrypto;
  readonly #neighbours: ReadonlySet<number>;
  readonly #c: KeyPair;
  readonly #s: KeyPair;
  /** b_u, the self-mask seed. */
  readonly #b: Uint8Array;
  readonly #peers = new Map<number, Peer>();
  /** Shares of partners' secrets, by partner; the partners are the senders of the delivery. */
  readonly #held = new Map<number, HeldShares>();

  /**
   * Client `id` of a round of `params` (as the server sent them; validated here), drawing its
   * keys and self-mask seed from `randomBytes`; `crypto` (crypto.ts) defaults to pure JavaScript.
   */
  constructor(
    params: SecAggParams,
    id: number,
    randomBytes: RandomBytes,
    crypto: SecAggCrypto = nobleSecAggCrypto,
  ) {
    this.params = secAggParams(params);
    this.id = expectInt('id', id, 0, this.params.n - 1);
    this.#randomBytes = randomBytes;
    this.#crypto = crypto;
    this.#neighbours = new Set(NeighbourGraph.of(this.params).neighbours(id));
    this.#c = generateKeyPair(randomBytes, crypto);
    this.#s = generateKeyPair(randomBytes, crypto);
    this.#b = takeBytes(randomBytes, SEED_BYTES).slice();
  }

  /** The stage whose input this client waits for. */
  get stage(): SecAggStage {
    return this.#stage;
  }

  /** Stage 0: advertise (c_pk, s_pk). */
  advertise(): AdvertiseMessage {
    return this.#step('advertise', 'share', () => ({
      cPk: this.#c.publicKey.slice(),
      sPk: this.#s.publicKey.slice(),
    }));
  }

  /**
   * Stage 1: given the keys of the neighbours that advertised, Shamir-share b_u and s_sk_u
   * among them (threshold t, point = id + 1) and encrypt each neighbour's pair of shares under
   * the key agreed from c_sk_u and its c_pk. Aborts (SECAGG_ABORTED) with fewer than t holders.
   */
  shareKeys(message: unknown): SharesMessage {
    return this.#step('share', 'mask', () => {
      const { n, threshold, seed } = this.params;
      const { neighbours } = parseKeys(message, n);
      for (const { id } of neighbours) {
        if (!this.#neighbours.has(id))
          throw new PollenError('INVALID_MESSAGE', `client ${id} is no neighbour`);
      }
      if (neighbours.length < threshold) {
        throw new PollenError(
          'SECAGG_ABORTED',
          `${neighbours.length} neighbours advertised, need ${threshold}`,
        );
      }
      const holders = [...neighbours].sort((a, b) => a.id - b.id);
      const xs = holders.map(({ id }) => id + 1);
      const selfMaskShares = shamirSplit(this.#b, xs, threshold, this.#randomBytes);
      const keyShares = shamirSplit(this.#s.secretKey, xs, threshold, this.#randomBytes);
      const shares = holders.map(({ id: to, cPk, sPk }, i) => {
        const shareKey = pairShareKey(agree(this.#c.secretKey, cPk, this.#crypto), seed, this.id, to);
        this.#peers.set(to, { cPk, sPk, shareKey });
        const plaintext = new Uint8Array(2 * SHARE_BYTES);
        plaintext.set(selfMaskShares[i]!, 0);
        plaintext.set(keyShares[i]!, SHARE_BYTES);
        return { peer: to, ciphertext: sealShares(shareKey, seed, this.id, to, plaintext) };
      });
      return { shares };
    });
  }

  /**
   * Stage 2: given the shares addressed to this client, keep them, and mask the input:
   * y_u = x_u + PRG(b_u) + sum over partners v of (u < v ? +1 : -1) * PRG(s_uv) mod 2^32,
   * where the partners are exactly the senders of the delivery. `input` is the fixed-point
   * encoded update (d words); it is not modified. Aborts with fewer than t partners.
   */
  maskInput(message: unknown, input: Uint32Array): MaskedInputMessage {
    return this.#step('mask', 'unmask', () => {
      const { d, threshold, seed } = this.params;
      if (!(input instanceof Uint32Array))
        throw new PollenError('INVALID_ARGUMENT', '"input" expected a Uint32Array');
      if (input.length !== d)
        throw new PollenError('SHAPE_MISMATCH', `"input" expected ${d} words, got ${input.length}`);
      const { shares } = parseDelivery(message, this.params.n);
      for (const { peer, ciphertext } of shares) {
        const known = this.#peers.get(peer);
        if (!known) throw new PollenError('INVALID_MESSAGE', `client ${peer} was not sent shares`);
        const plaintext = openShares(known.shareKey, seed, peer, this.id, ciphertext);
        this.#held.set(peer, {
          selfMask: plaintext.slice(0, SHARE_BYTES),
          key: plaintext.slice(SHARE_BYTES, 2 * SHARE_BYTES),
        });
      }
      if (this.#held.size < threshold) {
        throw new PollenError('SECAGG_ABORTED', `${this.#held.size} partners shared, need ${threshold}`);
      }
      const masked = input.slice();
      addMask(masked, this.#b, 1, this.#crypto);
      for (const v of this.#held.keys()) {
        const shared = agree(this.#s.secretKey, this.#peers.get(v)!.sPk, this.#crypto);
        addMask(masked, pairMaskSeed(shared, seed, this.id, v), this.id < v ? 1 : -1, this.#crypto);
      }
      return { masked };
    });
  }

  /**
   * Stage 3: reveal, for each partner the server says survived, the share of its self-mask
   * seed, and for each it says dropped, the share of its mask key. Refuses a partner named in
   * both lists (SECAGG_REFUSED) and aborts when fewer than t - 1 partners survived besides this
   * client (Bonawitz et al.'s |U3| >= t): with so few, removing the masks of the dropped would
   * leave this client's input covered by too few pairwise masks.
   */
  unmask(message: unknown): UnmaskResponse {
    if (this.#stage === 'done')
      throw new PollenError('SECAGG_REFUSED', 'unmask shares were already revealed');
    return this.#step('unmask', 'done', () => {
      const { survivors, dropped } = parseUnmaskRequest(message, this.params.n);
      for (const v of [...survivors, ...dropped]) {
        if (!this.#held.has(v)) throw new PollenError('INVALID_MESSAGE', `client ${v} is no partner`);
      }
      if (survivors.length + 1 < this.params.threshold) {
        throw new PollenError(
          'SECAGG_ABORTED',
          `${survivors.length + 1} survivors in the neighbourhood, need ${this.params.threshold}`,
        );
      }
      const reveal = (v: number, kind: keyof HeldShares): RevealedShare => ({
        peer: v,
        share: this.#held.get(v)![kind].slice(),
      });
      return {
        selfMaskShares: survivors.map((v) => reveal(v, 'selfMask')),
        keyShares: dropped.map((v) => reveal(v, 'key')),
      };
    });
  }

  /** Abandon the round: wipe every secret; later calls throw SECAGG_STAGE. */
  abort(): void {
    this.#stage = 'aborted';
    this.#wipe();
  }

  #step<T>(expected: SecAggStage, next: SecAggStage, body: () => T): T {
    if (this.#stage !== expected) {
      throw new PollenError(
        'SECAGG_STAGE',
        `client ${this.id} is at stage "${this.#stage}", not "${expected}"`,
      );
    }
    try {
      const out = body();
      this.#stage = next;
      if (next === 'done') this.#wipe();
      return out;
    } catch (err) {
      this.abort();
      throw err;
    }
  }

  #wipe(): void {
    this.#b.fill(0);
    this.#c.secretKey.fill(0);
    this.#s.secretKey.fill(0);
    for (const peer of this.#peers.values()) peer.shareKey.fill(0);
    for (const held of this.#held.values()) {
      held.selfMask.fill(0);
      held.key.fill(0);
    }
    this.#peers.clear();
    this.#held.clear();
  }
}
