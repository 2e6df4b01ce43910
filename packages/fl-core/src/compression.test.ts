import { decodeSortedIndices, encodeSortedIndices } from '@pollen/compression';
import { describe, expect, it } from 'vitest';
import {
  compressionK,
  NO_COMPRESSION,
  roundFraction,
  uploadPlanFor,
  validateCompression,
} from './compression.ts';
import { codeOf, digitsTask } from './task/digits-fixture.ts';
import { validateTaskSpec } from './task.ts';

const task = digitsTask;

describe('compression settings', () => {
  it('fills in defaults and reads a validated block back unchanged', () => {
    expect(validateCompression(undefined)).toEqual(NO_COMPRESSION);
    const topk = validateCompression({ kind: 'topk', fraction: 0.01, bits: 8 });
    expect(topk).toEqual({
      kind: 'topk',
      fraction: 0.01,
      bits: 8,
      errorFeedback: true,
      exploration: 0,
      momentum: 0,
    });
    expect(validateCompression(topk)).toEqual(topk);
    const shared = validateCompression({ kind: 'shared', fraction: 0.05 });
    expect(shared).toMatchObject({ bits: 32, errorFeedback: true, exploration: 0.1, momentum: 0.9 });
    expect(validateCompression(shared)).toEqual(shared);
    expect(validateTaskSpec(task({})).compression).toEqual(NO_COMPRESSION);
  });

  it('refuses bad fields with INVALID_TASK naming them', () => {
    for (const [block, field] of [
      [{ kind: 'zip' }, 'compression.kind'],
      [{ kind: 'topk' }, 'compression.fraction'],
      [{ kind: 'topk', fraction: 0 }, 'compression.fraction'],
      [{ kind: 'topk', fraction: 0.1, bits: 16 }, 'compression.bits'],
      [{ kind: 'none', fraction: 0.5 }, 'compression.fraction'],
      [{ kind: 'topk', fraction: 0.1, errorFeedback: 'yes' }, 'compression.errorFeedback'],
      [{ kind: 'topk', fraction: 0.1, exploration: 0.2 }, 'compression.exploration'],
      [{ kind: 'shared', fraction: 0.1, exploration: 2 }, 'compression.exploration'],
      [{ kind: 'shared', fraction: 0.1, momentum: 1 }, 'compression.momentum'],
      [{ kind: 'topk', fraction: 0.1, level: 3 }, 'compression.level'],
    ] as const) {
      const got = codeOf(() => validateCompression(block));
      expect(got).toContain('INVALID_TASK');
      expect(got).toContain(field);
    }
  });

  it('refuses impossible combinations when a task is created', () => {
    const robust = task({
      compression: { kind: 'topk', fraction: 0.01 },
      strategy: { robust: { kind: 'median' } },
    });
    expect(codeOf(() => validateTaskSpec(robust))).toMatch(/INVALID_TASK.*robust rule "median"/);
    const dp = { mode: 'local', clipNorm: 1, epsilonPerReport: 5, delta: 1e-5, epsilonBudget: 100 };
    expect(
      codeOf(() => validateTaskSpec(task({ compression: { kind: 'topk', fraction: 0.1 }, privacy: dp }))),
    ).toMatch(/INVALID_TASK.*"topk" leaks/);
    // Random-k and the shared set do not look at the data to choose: allowed under DP at 32 bits.
    expect(
      codeOf(() => validateTaskSpec(task({ compression: { kind: 'shared', fraction: 0.1 }, privacy: dp }))),
    ).toBe('ok');
    const clipOnly = { mode: 'off', clipNorm: 1 };
    expect(
      codeOf(() =>
        validateTaskSpec(
          task({ compression: { kind: 'randomk', fraction: 0.1, bits: 8 }, privacy: clipOnly }),
        ),
      ),
    ).toMatch(/INVALID_TASK.*"compression.bits"/);
  });
});

describe('uploadPlanFor', () => {
  it('reads a round start into the plan the encoder follows', () => {
    expect(uploadPlanFor({ codec: 'f16' }, 50)).toEqual({
      kind: 'none',
      bits: 32,
      precision: 'f16',
      k: 50,
      errorFeedback: false,
    });
    const set = Uint32Array.from([1, 5, 9]);
    const plan = uploadPlanFor(
      {
        codec: 'f32',
        compression: {
          kind: 'shared',
          bits: 8,
          k: 3,
          errorFeedback: true,
          coordinates: encodeSortedIndices(set),
        },
      },
      10,
    );
    expect(Array.from(plan.coordinates!)).toEqual([1, 5, 9]);
    expect(Array.from(decodeSortedIndices(encodeSortedIndices(set), 3, 10))).toEqual([1, 5, 9]);
  });

  it('refuses a block that is not one', () => {
    const base = { kind: 'topk', bits: 8, k: 3, errorFeedback: true } as const;
    expect(codeOf(() => uploadPlanFor({ codec: 'f32', compression: { ...base, k: 11 } }, 10))).toContain(
      'INVALID_MESSAGE',
    );
    expect(
      codeOf(() => uploadPlanFor({ codec: 'f32', compression: { ...base, bits: 3 as never } }, 10)),
    ).toContain('INVALID_MESSAGE');
    const shared = { ...base, kind: 'shared' as const };
    expect(codeOf(() => uploadPlanFor({ codec: 'f32', compression: shared }, 10))).toContain(
      'INVALID_MESSAGE',
    );
    const outside = encodeSortedIndices(Uint32Array.from([1, 5, 12]));
    expect(
      codeOf(() => uploadPlanFor({ codec: 'f32', compression: { ...shared, coordinates: outside } }, 10)),
    ).toContain('BAD_FRAME');
  });
});

describe("DGC's settings", () => {
  const dgc = {
    kind: 'topk',
    fraction: 0.001,
    bits: 4,
    momentumCorrection: 0.5,
    updateClipNorm: 2,
    warmupRounds: 4,
    warmupFraction: 0.02,
  };

  it('are kept only when set, so a block without them reads back as before', () => {
    const settings = validateCompression(dgc);
    expect(settings).toMatchObject(dgc);
    expect(validateCompression(settings)).toEqual(settings);
    expect(Object.keys(validateCompression({ kind: 'topk', fraction: 0.01 }))).not.toContain('warmupRounds');
    expect(validateCompression({ kind: 'topk', fraction: 0.01, warmupRounds: 3 }).warmupFraction).toBe(0.25);
  });

  it('refuses bad values with INVALID_TASK naming the field', () => {
    for (const [block, field] of [
      [{ ...dgc, momentumCorrection: 1 }, 'compression.momentumCorrection'],
      [{ ...dgc, momentumCorrection: -0.1 }, 'compression.momentumCorrection'],
      [{ ...dgc, momentumCorrection: '0.9' }, 'compression.momentumCorrection'],
      [{ ...dgc, updateClipNorm: 0 }, 'compression.updateClipNorm'],
      [{ ...dgc, updateClipNorm: Number.POSITIVE_INFINITY }, 'compression.updateClipNorm'],
      [{ ...dgc, warmupRounds: 1.5 }, 'compression.warmupRounds'],
      [{ ...dgc, warmupRounds: -1 }, 'compression.warmupRounds'],
      [{ ...dgc, warmupFraction: 0.0005 }, 'compression.warmupFraction'],
      [{ ...dgc, warmupFraction: 1.5 }, 'compression.warmupFraction'],
      [{ kind: 'topk', fraction: 0.01, warmupFraction: 0.1 }, 'compression.warmupFraction'],
      [{ kind: 'none', momentumCorrection: 0.5 }, 'compression.momentumCorrection'],
      [{ kind: 'none', warmupRounds: 3 }, 'compression.warmupRounds'],
      [{ ...dgc, errorFeedback: false }, 'compression.momentumCorrection'],
      [
        { kind: 'topk', fraction: 0.01, errorFeedback: false, updateClipNorm: 1 },
        'compression.updateClipNorm',
      ],
    ] as const) {
      const got = codeOf(() => validateCompression(block));
      expect(got).toContain('INVALID_TASK');
      expect(got).toContain(field);
    }
  });

  it('refuses the device terms under secure aggregation, whose rounds keep no residual', () => {
    const secure = task({
      compression: { kind: 'shared', fraction: 0.1, momentumCorrection: 0.5 },
      secureAggregation: {},
    });
    expect(codeOf(() => validateTaskSpec(secure))).toMatch(/INVALID_TASK.*momentumCorrection/);
  });

  it('the warm-up sets k per round, and k without a round bounds every round', () => {
    const settings = validateCompression(dgc);
    const d = 100_000;
    // 2% to 0.1% over 4 rounds: 2000, then x (0.05)^(1/4) = 0.473 a round, then 100.
    expect([1, 2, 3, 4, 5, 40].map((r) => compressionK(settings, d, r))).toEqual([
      2000, 946, 447, 211, 100, 100,
    ]);
    expect(compressionK(settings, d)).toBe(2000);
    expect(roundFraction(validateCompression({ kind: 'topk', fraction: 0.01 }), 1)).toBe(0.01);
  });

  it('reach the device in the round start and come back from uploadPlanFor', () => {
    const plan = uploadPlanFor(
      {
        codec: 'f32',
        compression: {
          kind: 'topk',
          bits: 4,
          k: 10,
          errorFeedback: true,
          momentumCorrection: 0.5,
          updateClipNorm: 2,
        },
      },
      1000,
    );
    expect(plan).toMatchObject({ momentumCorrection: 0.5, updateClipNorm: 2, k: 10 });
    expect(
      codeOf(() =>
        uploadPlanFor(
          {
            codec: 'f32',
            compression: { kind: 'topk', bits: 4, k: 10, errorFeedback: false, momentumCorrection: 0.5 },
          },
          1000,
        ),
      ),
    ).toMatch(/INVALID_MESSAGE/);
  });
});
