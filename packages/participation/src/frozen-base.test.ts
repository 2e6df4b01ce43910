import { encodeDense } from '@pollen/compression';
import { describe, expect, it } from 'vitest';
import { baseVector, checkBase, sha256Hex } from './frozen-base.ts';

describe('a frozen base', () => {
  it('hashes with SHA-256 (FIPS 180-2, the "abc" vector)', async () => {
    expect(await sha256Hex(Uint8Array.from([0x61, 0x62, 0x63]))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('is taken when its checksum is the expected one, and refused otherwise', async () => {
    const values = Float32Array.from([1, -2, 0.5]);
    const frame = encodeDense(values, 'f32');
    const checksum = await sha256Hex(frame);
    const base = await checkBase(frame, checksum);
    expect(baseVector(base)).toEqual(values);
    await expect(checkBase(frame, '00'.repeat(32))).rejects.toMatchObject({ code: 'BAD_FRAME' });
    await expect(checkBase(new Uint8Array(8), null)).rejects.toMatchObject({ code: 'BAD_FRAME' });
  });
});
