import {
  addGaussianNoise,
  clipBit,
  clipToNorm,
  expectNonNegative,
  expectPositive,
  type PrivacyMode,
  type Rng,
  type RoundPrivacy,
} from '@pollen/fl-core';

/**
 * What the device does to its update before it leaves, as the round's privacy block says:
 * clip the whole delta to L2 norm C, add Gaussian noise from the browser's CSPRNG, and
 * compute adaptive clipping's bit from the norm before clipping.
 */

/** An update ready to send, and what was done to it. */
export interface PrivateUpdate {
  readonly update: Float32Array;
  /** Present when the round asked for adaptive clipping's bit. */
  readonly clipBit?: 0 | 1;
  /** L2 norm of the delta before clipping. */
  readonly norm: number;
  /** Whether the delta was scaled down to C. */
  readonly clipped: boolean;
}

/** What the page hears about a sent update's privacy (the SDK's `uploaded` event). */
export interface UploadPrivacy {
  readonly mode: PrivacyMode;
  readonly clipNorm: number;
  readonly clipped: boolean;
  readonly noiseStd: number;
  /** How much this round adds to the task's epsilon, at `delta`; null in mode 'off'. */
  readonly epsilon: number | null;
  /** The task's epsilon once this round commits; null in mode 'off'. */
  readonly epsilonTotal: number | null;
  readonly delta: number | null;
}

/** WebCrypto's `getRandomValues`, as browsers, workers and Node (globalThis.crypto) have it. */
export interface RandomSource {
  getRandomValues<T extends Uint32Array>(array: T): T;
}

// Uniform draws need 53 random bits; getRandomValues fills at most 65,536 bytes per call.
const BLOCK_WORDS = 16_384;

/**
 * Uniform numbers in [0, 1) from `crypto.getRandomValues` (browsers, workers and Node alike),
 * 53 bits each, drawn in blocks. DP noise must come from a CSPRNG: noise an observer could
 * predict from a seed would subtract out (Mironov 2012 shows even the low bits matter).
 */
export function cryptoRng(
  crypto: RandomSource = (globalThis as unknown as { crypto: RandomSource }).crypto,
): Rng {
  const block = new Uint32Array(BLOCK_WORDS);
  let next = block.length;
  return () => {
    if (next + 2 > block.length) {
      crypto.getRandomValues(block);
      next = 0;
    }
    const hi = block[next++]! >>> 5;
    const lo = block[next++]! >>> 6;
    return (hi * 67_108_864 + lo) / 9_007_199_254_740_992;
  };
}

/**
 * Clip `delta` to the round's C, add its noise and compute the bit. The block comes from the
 * coordinator, so it is checked first: a C or a noise std that is not a finite number is
 * refused rather than sent unclipped.
 */
export function privatize(delta: Float32Array, privacy: RoundPrivacy, rng: Rng = cryptoRng()): PrivateUpdate {
  const clipNorm = expectPositive('privacy.clipNorm', privacy.clipNorm, 'INVALID_MESSAGE');
  const noiseStd = expectNonNegative('privacy.noiseStd', privacy.noiseStd, 'INVALID_MESSAGE');
  const { clipped, norm, wasClipped } = clipToNorm(delta, clipNorm);
  const update = addGaussianNoise(clipped, noiseStd, rng);
  return {
    update,
    norm,
    clipped: wasClipped,
    ...(privacy.clipBit ? { clipBit: clipBit(norm, clipNorm) } : {}),
  };
}

/** The `uploaded` event's privacy: C, the noise and the epsilon this round adds. */
export function uploadPrivacy(privacy: RoundPrivacy, sent: PrivateUpdate): UploadPrivacy {
  const { epsilonBefore, epsilonAfter } = privacy;
  return {
    mode: privacy.mode,
    clipNorm: privacy.clipNorm,
    clipped: sent.clipped,
    noiseStd: privacy.noiseStd,
    epsilon: epsilonBefore !== null && epsilonAfter !== null ? epsilonAfter - epsilonBefore : null,
    epsilonTotal: epsilonAfter,
    delta: privacy.delta,
  };
}
