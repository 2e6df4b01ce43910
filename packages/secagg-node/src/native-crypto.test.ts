import {
  agree,
  chachaRandomBytes,
  expandMask,
  MASK_NONCE,
  nobleSecAggCrypto,
  PollenError,
  publicKeyOf,
  secAggParams,
  simulateSecAgg,
} from '@pollen/fl-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nativeSecAggCrypto } from './native-crypto.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/[\s:]/g, ''), 'hex'));
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

function keystream(
  impl: typeof nativeSecAggCrypto,
  key: Uint8Array,
  nonce: Uint8Array,
  counter: number,
  n: number,
) {
  const out = new Uint8Array(n);
  impl.keystream(key, nonce, counter, out);
  return out;
}

describe('nativeSecAggCrypto ChaCha20', () => {
  it("gives RFC 8439's keystream (section 2.4.2: key 00..1f, counter 1)", () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const nonce = hex('000000000000004a00000000');
    // The RFC's ciphertext XOR its plaintext ("Ladies and Gentlemen of the class of '99...").
    const plaintext = new TextEncoder().encode('Ladies and Gentlemen of the class of ');
    const ciphertext = hex(
      '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f',
    );
    const stream = keystream(nativeSecAggCrypto, key, nonce, 1, plaintext.length);
    expect(stream.map((b, i) => b ^ plaintext[i]!)).toEqual(ciphertext.subarray(0, plaintext.length));
  });

  it('gives the same keystream as @noble for any key, nonce, block counter and length', () => {
    fc.assert(
      fc.property(bytes(32), bytes(12), fc.nat(1 << 24), fc.nat(700), (key, nonce, counter, n) => {
        expect(keystream(nativeSecAggCrypto, key, nonce, counter, n)).toEqual(
          keystream(nobleSecAggCrypto, key, nonce, counter, n),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('expands mask seeds to the same words as @noble, across keystream chunks', () => {
    fc.assert(
      fc.property(bytes(32), fc.constantFrom(1, 15, 16, 17, 16_384, 16_385, 40_000), (seed, d) => {
        expect(expandMask(seed, d, nativeSecAggCrypto)).toEqual(expandMask(seed, d, nobleSecAggCrypto));
      }),
      { numRuns: 12 },
    );
    expect(MASK_NONCE.length).toBe(12);
  });

  it('refuses a nonce of another length and a stream past the 32-bit block counter', () => {
    const out = new Uint8Array(128);
    expect(() => nativeSecAggCrypto.keystream(new Uint8Array(32), new Uint8Array(8), 0, out)).toThrow(
      RangeError,
    );
    expect(() =>
      nativeSecAggCrypto.keystream(new Uint8Array(32), new Uint8Array(12), 0xffffffff, out),
    ).toThrow(RangeError);
  });
});

describe('nativeSecAggCrypto X25519', () => {
  it("matches RFC 7748's section 6.1 vectors", () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bob = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const alicePk = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    const bobPk = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = hex('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    expect(nativeSecAggCrypto.x25519PublicKey(alice)).toEqual(alicePk);
    expect(nativeSecAggCrypto.x25519PublicKey(bob)).toEqual(bobPk);
    expect(nativeSecAggCrypto.x25519(alice, bobPk)).toEqual(shared);
    expect(nativeSecAggCrypto.x25519(bob, alicePk)).toEqual(shared);
  });

  it('gives the same public keys and shared secrets as @noble for any keys', () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), (a, b) => {
        const pk = publicKeyOf(b, nobleSecAggCrypto);
        expect(publicKeyOf(a, nativeSecAggCrypto)).toEqual(publicKeyOf(a, nobleSecAggCrypto));
        expect(agree(a, pk, nativeSecAggCrypto)).toEqual(agree(a, pk, nobleSecAggCrypto));
      }),
      { numRuns: 25 },
    );
  });

  it('agrees with @noble on any 32 bytes as a public key (top bit set, values past 2^255 - 19)', () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), (a, pk) => {
        let noble: Uint8Array | string;
        let native: Uint8Array | string;
        try {
          noble = agree(a, pk, nobleSecAggCrypto);
        } catch (err) {
          noble = (err as PollenError).code;
        }
        try {
          native = agree(a, pk, nativeSecAggCrypto);
        } catch (err) {
          native = (err as PollenError).code;
        }
        expect(native).toEqual(noble);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a public key of small order with INVALID_MESSAGE, as @noble does', () => {
    const secret = new Uint8Array(32).fill(7);
    for (const impl of [nativeSecAggCrypto, nobleSecAggCrypto]) {
      try {
        agree(secret, new Uint8Array(32), impl);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(PollenError);
        expect((err as PollenError).code).toBe('INVALID_MESSAGE');
      }
    }
  });
});

describe('a SecAgg+ round with @noble clients and a native server', () => {
  it('unmasks exactly the survivors sum, drop-outs included', () => {
    const n = 12;
    const d = 20_000; // past one 16,384-word keystream chunk
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
    const params = secAggParams({ n, d, seed });
    const inputs = Array.from({ length: n }, (_, id) =>
      Uint32Array.from({ length: d }, (_, i) => (id * 2_654_435_761 + i * 40_503) >>> 0),
    );
    const result = simulateSecAgg({
      params,
      inputs,
      randomBytes: (id) => chachaRandomBytes(Uint8Array.from({ length: 32 }, () => id)),
      dropouts: { afterShare: [3, 8] },
      crypto: { clients: nobleSecAggCrypto, server: nativeSecAggCrypto },
    });
    expect(result.dropped).toEqual([3, 8]);
    const expected = new Uint32Array(d);
    for (const id of result.contributors)
      for (let i = 0; i < d; i++) expected[i] = expected[i]! + inputs[id]![i]!;
    expect(result.contributors).toHaveLength(n - 2);
    expect(result.sum).toEqual(expected);
  });
});
