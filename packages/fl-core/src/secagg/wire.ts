import { PollenError } from '../errors.ts';
import { KEY_BYTES } from './keys.ts';
import {
  CIPHERTEXT_BYTES,
  type EncryptedShares,
  type KeysMessage,
  type RevealedShare,
  type UnmaskResponse,
} from './messages.ts';
import { SHARE_BYTES } from './shamir.ts';

/**
 * The stage messages as they travel over Socket.io: ids in a plain array, every fixed-size
 * binary field of the list concatenated into one binary blob. Socket.io sends each binary
 * as a separate attachment and its parser refuses packets with many of them (10 by default),
 * while a SecAgg+ message carries O(k) keys, ciphertexts or shares; one blob per message also
 * saves the per-attachment framing. Unpacking checks only the framing (INVALID_MESSAGE); the
 * ids and values are checked by fl-core's message parsers and state machines.
 */

/** Binary from the wire as a Uint8Array (Node gives a Buffer, browsers an ArrayBuffer). */
export function wireBytes(name: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new PollenError('INVALID_MESSAGE', `"${name}" expected binary`);
}

function ids(name: string, value: unknown, n: number): unknown[] {
  if (!Array.isArray(value) || value.length > n) {
    throw new PollenError('INVALID_MESSAGE', `"${name}" expected an array of at most ${n} ids`);
  }
  return value;
}

function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(parts.length * size);
  for (const [i, part] of parts.entries()) out.set(part, i * size);
  return out;
}

/** Split `blob` into `count` copies of `size` bytes, refusing any other length. */
function split(name: string, blob: unknown, count: number, size: number): Uint8Array[] {
  const bytes = wireBytes(name, blob);
  if (bytes.length !== count * size) {
    throw new PollenError('INVALID_MESSAGE', `"${name}" expected ${count * size} bytes, got ${bytes.length}`);
  }
  // Copies, not views: a Node Buffer's slice() would alias the socket's receive buffer.
  return Array.from({ length: count }, (_, i) => new Uint8Array(bytes.subarray(i * size, (i + 1) * size)));
}

/** Wire form of a keys message: `neighbours` ids, `keys` = cPk || sPk per neighbour. */
export interface WireKeys {
  readonly neighbours: readonly number[];
  readonly keys: Uint8Array;
}

export function packKeys(message: KeysMessage): WireKeys {
  return {
    neighbours: message.neighbours.map((e) => e.id),
    keys: concat(
      message.neighbours.flatMap((e) => [e.cPk, e.sPk]),
      KEY_BYTES,
    ),
  };
}

export function unpackKeys(body: Record<string, unknown>, n: number): { neighbours: unknown[] } {
  const list = ids('neighbours', body.neighbours, n);
  const keys = split('keys', body.keys, 2 * list.length, KEY_BYTES);
  return { neighbours: list.map((id, i) => ({ id, cPk: keys[2 * i], sPk: keys[2 * i + 1] })) };
}

/** Wire form of encrypted shares: `peers` ids, `ciphertexts` concatenated. */
export interface WireShares {
  readonly peers: readonly number[];
  readonly ciphertexts: Uint8Array;
}

export function packShares(shares: readonly EncryptedShares[]): WireShares {
  return {
    peers: shares.map((s) => s.peer),
    ciphertexts: concat(
      shares.map((s) => s.ciphertext),
      CIPHERTEXT_BYTES,
    ),
  };
}

export function unpackShares(body: Record<string, unknown>, n: number): { shares: unknown[] } {
  const peers = ids('peers', body.peers, n);
  const blobs = split('ciphertexts', body.ciphertexts, peers.length, CIPHERTEXT_BYTES);
  return { shares: peers.map((peer, i) => ({ peer, ciphertext: blobs[i] })) };
}

/** Wire form of an unmask response: the two id lists, then every share in that order. */
export interface WireReveal {
  readonly selfMaskPeers: readonly number[];
  readonly keyPeers: readonly number[];
  readonly shares: Uint8Array;
}

export function packReveal(response: UnmaskResponse): WireReveal {
  const all: RevealedShare[] = [...response.selfMaskShares, ...response.keyShares];
  return {
    selfMaskPeers: response.selfMaskShares.map((s) => s.peer),
    keyPeers: response.keyShares.map((s) => s.peer),
    shares: concat(
      all.map((s) => s.share),
      SHARE_BYTES,
    ),
  };
}

export function unpackReveal(
  body: Record<string, unknown>,
  n: number,
): { selfMaskShares: unknown[]; keyShares: unknown[] } {
  const self = ids('selfMaskPeers', body.selfMaskPeers, n);
  const key = ids('keyPeers', body.keyPeers, n);
  const shares = split('shares', body.shares, self.length + key.length, SHARE_BYTES);
  return {
    selfMaskShares: self.map((peer, i) => ({ peer, share: shares[i] })),
    keyShares: key.map((peer, i) => ({ peer, share: shares[self.length + i] })),
  };
}
