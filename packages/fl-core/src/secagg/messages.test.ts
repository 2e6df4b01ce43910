import { describe, expect, it } from 'vitest';
import {
  CIPHERTEXT_BYTES,
  parseAdvertise,
  parseDelivery,
  parseKeys,
  parseMaskedInput,
  parseShares,
  parseUnmaskRequest,
  parseUnmaskResponse,
} from './messages.ts';

const key = new Uint8Array(32);
const invalid = expect.objectContaining({ code: 'INVALID_MESSAGE' });

describe('message parsers', () => {
  it('accept well-formed messages', () => {
    expect(parseAdvertise({ cPk: key, sPk: key })).toEqual({ cPk: key, sPk: key });
    expect(parseKeys({ neighbours: [{ id: 3, cPk: key, sPk: key }] }, 5).neighbours[0]!.id).toBe(3);
    const ciphertext = new Uint8Array(CIPHERTEXT_BYTES);
    expect(parseShares({ shares: [{ peer: 1, ciphertext }] }, 5).shares).toHaveLength(1);
    expect(parseDelivery({ shares: [] }, 5).shares).toEqual([]);
    expect(parseUnmaskRequest({ survivors: [1, 2], dropped: [4] }, 5)).toEqual({
      survivors: [1, 2],
      dropped: [4],
    });
    const share = new Uint8Array(33);
    expect(
      parseUnmaskResponse({ selfMaskShares: [{ peer: 1, share }], keyShares: [] }, 5).selfMaskShares,
    ).toHaveLength(1);
  });

  it('refuse wrong sizes, types, ids and repeats', () => {
    expect(() => parseAdvertise(null)).toThrow(invalid);
    expect(() => parseAdvertise({ cPk: key, sPk: new Uint8Array(31) })).toThrow(invalid);
    expect(() => parseAdvertise({ cPk: Array.from(key), sPk: key })).toThrow(invalid);
    expect(() => parseKeys({ neighbours: [{ id: 5, cPk: key, sPk: key }] }, 5)).toThrow(invalid);
    expect(() => parseKeys({ neighbours: [{ id: 1.5, cPk: key, sPk: key }] }, 5)).toThrow(invalid);
    const ciphertext = new Uint8Array(CIPHERTEXT_BYTES);
    expect(() => parseShares({ shares: [{ peer: 1, ciphertext: ciphertext.subarray(1) }] }, 5)).toThrow(
      invalid,
    );
    expect(() =>
      parseShares(
        {
          shares: [
            { peer: 1, ciphertext },
            { peer: 1, ciphertext },
          ],
        },
        5,
      ),
    ).toThrow(/twice/);
    expect(() =>
      parseShares({ shares: Array.from({ length: 6 }, (_, peer) => ({ peer, ciphertext })) }, 5),
    ).toThrow(/at most 5/);
    expect(() => parseUnmaskRequest({ survivors: [1, 1], dropped: [] }, 5)).toThrow(/twice/);
    expect(() =>
      parseUnmaskResponse({ selfMaskShares: [{ peer: 1, share: key }], keyShares: [] }, 5),
    ).toThrow(invalid);
  });

  it('refuse, as SECAGG_REFUSED, a request naming one client as survivor and drop-out', () => {
    expect(() => parseUnmaskRequest({ survivors: [1, 2], dropped: [2] }, 5)).toThrow(
      expect.objectContaining({ code: 'SECAGG_REFUSED' }),
    );
  });

  it('take a masked input as a Uint32Array or as its little-endian bytes, even unaligned', () => {
    const words = Uint32Array.from([1, 0xdeadbeef, 7]);
    expect(parseMaskedInput({ masked: words }, 3).masked).toBe(words);
    const buffer = new Uint8Array(13);
    buffer.set(new Uint8Array(words.buffer), 1);
    expect(parseMaskedInput({ masked: buffer.subarray(1) }, 3).masked).toEqual(words);
    expect(() => parseMaskedInput({ masked: words }, 4)).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    expect(() => parseMaskedInput({ masked: buffer }, 3)).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    expect(() => parseMaskedInput({ masked: Float32Array.of(1, 2, 3) }, 3)).toThrow(invalid);
  });
});
