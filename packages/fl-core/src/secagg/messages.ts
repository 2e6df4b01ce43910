import { PollenError, type PollenErrorCode } from '../errors.ts';
import { KEY_BYTES, TAG_BYTES } from './keys.ts';
import { SHARE_BYTES } from './shamir.ts';

/**
 * The messages of one SecAgg round (Bonawitz et al., CCS 2017, the semi-honest
 * variant; SecAgg+ neighbourhoods of Bell et al., CCS 2020). Plain objects of numbers and
 * typed arrays, so the coordinator can send them over Socket.io as they are. Client ids are
 * the round's indices 0..n-1; the sender of a client message is whoever the coordinator bound
 * to the socket, never a field of the payload, so client messages carry no id of their own.
 *
 * Each parser checks one message's shape at the boundary (INVALID_MESSAGE); whether its ids
 * belong to the round at that stage is checked by the state machine that receives it.
 */

/** Stage 0, client -> server: the client's two public keys. */
export interface AdvertiseMessage {
  /** c_pk: X25519 key for encrypting shares. */
  readonly cPk: Uint8Array;
  /** s_pk: X25519 key for pairwise masks. */
  readonly sPk: Uint8Array;
}

/** The public keys of one neighbour. */
export interface NeighbourKeys {
  readonly id: number;
  readonly cPk: Uint8Array;
  readonly sPk: Uint8Array;
}

/** Stage 0 -> 1, server -> client: the keys of the client's neighbours that advertised. */
export interface KeysMessage {
  readonly neighbours: readonly NeighbourKeys[];
}

/** Shares encrypted between two clients; `peer` is the recipient or the sender by context. */
export interface EncryptedShares {
  readonly peer: number;
  /** ChaCha20-Poly1305 of (share of b_u || share of s_sk_u). */
  readonly ciphertext: Uint8Array;
}

/** Stage 1, client -> server: one ciphertext per neighbour of the keys message (`peer` = to). */
export interface SharesMessage {
  readonly shares: readonly EncryptedShares[];
}

/**
 * Stage 1 -> 2, server -> client: the ciphertexts addressed to this client by neighbours that
 * shared (`peer` = from). The senders are this client's mask partners.
 */
export interface DeliveryMessage {
  readonly shares: readonly EncryptedShares[];
}

/** Stage 2, client -> server: y_u = x_u + PRG(b_u) + sum_v +-PRG(s_uv) mod 2^32. */
export interface MaskedInputMessage {
  readonly masked: Uint32Array;
}

/**
 * Stage 2 -> 3, server -> client: which of the client's partners sent a masked input
 * (reveal the share of their self-mask seed) and which dropped (reveal the share of their
 * mask key). A client refuses a request that names one partner in both lists.
 */
export interface UnmaskRequest {
  readonly survivors: readonly number[];
  readonly dropped: readonly number[];
}

/** One revealed share of partner `peer`'s secret, at the responder's point (its id + 1). */
export interface RevealedShare {
  readonly peer: number;
  readonly share: Uint8Array;
}

/** Stage 3, client -> server: exactly the shares the request asked for. */
export interface UnmaskResponse {
  readonly selfMaskShares: readonly RevealedShare[];
  readonly keyShares: readonly RevealedShare[];
}

/** Plaintext of one ciphertext: the two shares. */
export const SHARES_PLAINTEXT_BYTES = 2 * SHARE_BYTES;
/** Bytes of one ciphertext. */
export const CIPHERTEXT_BYTES = SHARES_PLAINTEXT_BYTES + TAG_BYTES;

const CODE: PollenErrorCode = 'INVALID_MESSAGE';
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function bad(message: string): never {
  throw new PollenError(CODE, message);
}

function object(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    bad(`"${name}" expected an object`);
  return value as Record<string, unknown>;
}

function bytes(name: string, value: unknown, length: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) bad(`"${name}" expected ${length} bytes`);
  return value;
}

function list(name: string, value: unknown, n: number): unknown[] {
  if (!Array.isArray(value) || value.length > n) bad(`"${name}" expected an array of at most ${n} entries`);
  return value;
}

function id(name: string, value: unknown, n: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= n) {
    bad(`"${name}" expected a client id in [0, ${n - 1}]`);
  }
  return value;
}

function ids(name: string, value: unknown, n: number): number[] {
  const out = list(name, value, n).map((entry, i) => id(`${name}[${i}]`, entry, n));
  if (new Set(out).size !== out.length) bad(`"${name}" names a client twice`);
  return out;
}

function peers<T extends { readonly peer: number }>(name: string, entries: T[]): T[] {
  if (new Set(entries.map((entry) => entry.peer)).size !== entries.length)
    bad(`"${name}" names a client twice`);
  return entries;
}

/** Parse stage 0's message from a client. */
export function parseAdvertise(value: unknown): AdvertiseMessage {
  const m = object('advertise', value);
  return { cPk: bytes('cPk', m.cPk, KEY_BYTES), sPk: bytes('sPk', m.sPk, KEY_BYTES) };
}

/** Parse the server's keys message in a round of `n` clients. */
export function parseKeys(value: unknown, n: number): KeysMessage {
  const m = object('keys', value);
  const neighbours = list('neighbours', m.neighbours, n).map((entry, i) => {
    const e = object(`neighbours[${i}]`, entry);
    return {
      peer: id(`neighbours[${i}].id`, e.id, n),
      cPk: bytes(`neighbours[${i}].cPk`, e.cPk, KEY_BYTES),
      sPk: bytes(`neighbours[${i}].sPk`, e.sPk, KEY_BYTES),
    };
  });
  return {
    neighbours: peers('neighbours', neighbours).map(({ peer, cPk, sPk }) => ({ id: peer, cPk, sPk })),
  };
}

function encrypted(name: string, value: unknown, n: number): EncryptedShares[] {
  const entries = list(name, value, n).map((entry, i) => {
    const e = object(`${name}[${i}]`, entry);
    return {
      peer: id(`${name}[${i}].peer`, e.peer, n),
      ciphertext: bytes(`${name}[${i}].ciphertext`, e.ciphertext, CIPHERTEXT_BYTES),
    };
  });
  return peers(name, entries);
}

/** Parse stage 1's message from a client. */
export function parseShares(value: unknown, n: number): SharesMessage {
  return { shares: encrypted('shares', object('shares', value).shares, n) };
}

/** Parse the server's delivery of encrypted shares. */
export function parseDelivery(value: unknown, n: number): DeliveryMessage {
  return { shares: encrypted('shares', object('delivery', value).shares, n) };
}

/**
 * Parse stage 2's message. `masked` may be a Uint32Array or its 4d bytes little-endian (what
 * Socket.io hands Node for any typed array); bytes are copied into an aligned Uint32Array.
 */
export function parseMaskedInput(value: unknown, d: number): MaskedInputMessage {
  const masked = object('maskedInput', value).masked;
  if (masked instanceof Uint32Array) {
    if (masked.length !== d) throw new PollenError('SHAPE_MISMATCH', `"masked" expected ${d} words`);
    return { masked };
  }
  if (!(masked instanceof Uint8Array)) bad('"masked" expected a Uint32Array or its bytes');
  if (masked.length !== 4 * d) throw new PollenError('SHAPE_MISMATCH', `"masked" expected ${4 * d} bytes`);
  const out = new Uint32Array(d);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(masked);
  } else {
    const view = new DataView(masked.buffer, masked.byteOffset, masked.byteLength);
    for (let i = 0; i < d; i++) out[i] = view.getUint32(4 * i, true);
  }
  return { masked: out };
}

/** Parse the server's unmask request; refuses (SECAGG_REFUSED) one partner in both lists. */
export function parseUnmaskRequest(value: unknown, n: number): UnmaskRequest {
  const m = object('unmaskRequest', value);
  const survivors = ids('survivors', m.survivors, n);
  const dropped = ids('dropped', m.dropped, n);
  const alive = new Set(survivors);
  for (const v of dropped) {
    if (alive.has(v)) {
      throw new PollenError(
        'SECAGG_REFUSED',
        `asked for both the self-mask seed and the mask key of client ${v}`,
      );
    }
  }
  return { survivors, dropped };
}

function revealed(name: string, value: unknown, n: number): RevealedShare[] {
  const entries = list(name, value, n).map((entry, i) => {
    const e = object(`${name}[${i}]`, entry);
    return {
      peer: id(`${name}[${i}].peer`, e.peer, n),
      share: bytes(`${name}[${i}].share`, e.share, SHARE_BYTES),
    };
  });
  return peers(name, entries);
}

/** Parse stage 3's message from a client. */
export function parseUnmaskResponse(value: unknown, n: number): UnmaskResponse {
  const m = object('unmaskResponse', value);
  return {
    selfMaskShares: revealed('selfMaskShares', m.selfMaskShares, n),
    keyShares: revealed('keyShares', m.keyShares, n),
  };
}
