import { type Static, Type } from '@sinclair/typebox';
import { PollenError } from '../errors.ts';
import { type LrSchedule, LrScheduleSchema, validateLrSchedule } from '../schedule.ts';
import type { InputSpec } from './schema.ts';

/**
 * The parts of `training` that fit local work to the device (docs/tasks.md, "Work that fits
 * the device"): a time budget instead of a fixed epoch count, a cap on the share of CPU time
 * training takes, a learning-rate schedule over rounds and on-device augmentation.
 */

export const AugmentationSchema = Type.Object(
  {
    rotationDeg: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 180,
        description: 'Rotate each image by up to +-this many degrees',
      }),
    ),
    translate: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 0.5,
        description: 'Shift each image by up to this fraction of its height and width',
      }),
    ),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff })),
  },
  { additionalProperties: false, description: 'Random rotation and translation per epoch, image inputs' },
);

/** On-device augmentation, defaults filled in. */
export interface AugmentationSpec {
  readonly rotationDeg: number;
  readonly translate: number;
  readonly seed: number;
}

export const LOCAL_WORK_FIELDS = {
  timeBudgetMs: Type.Optional(
    Type.Integer({
      minimum: 100,
      maximum: 3_600_000,
      description: 'Train for at most this long (up to `epochs` epochs); each client reports its steps',
    }),
  ),
  cpuShare: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description: 'Busy at most this share of the time (train in slices with pauses); visitors may lower it',
    }),
  ),
  schedule: Type.Optional(LrScheduleSchema),
  augmentation: Type.Optional(AugmentationSchema),
};

/** The local-work fields of a checked TrainingSpec. */
export interface LocalWorkSpec {
  readonly timeBudgetMs?: number;
  readonly cpuShare?: number;
  readonly schedule?: LrSchedule;
  readonly augmentation?: AugmentationSpec;
}

type LocalWorkInput = Static<ReturnType<typeof Type.Object<typeof LOCAL_WORK_FIELDS>>>;

/**
 * Cross-field rules of the local-work fields (their shapes are checked by the task schema):
 * a time budget ends before the round's deadline, a cosine floor lies below the learning
 * rate, augmentation needs an image input ([height, width] or [height, width, channels]).
 */
export function checkLocalWork(
  training: LocalWorkInput,
  context: { readonly learningRate: number; readonly deadlineMs: number; readonly input: InputSpec },
): LocalWorkSpec {
  const out: {
    timeBudgetMs?: number;
    cpuShare?: number;
    schedule?: LrSchedule;
    augmentation?: AugmentationSpec;
  } = {};
  if (training.timeBudgetMs !== undefined) {
    if (training.timeBudgetMs >= context.deadlineMs) {
      throw new PollenError(
        'INVALID_TASK',
        `"training.timeBudgetMs" (${training.timeBudgetMs}) must be below "rounds.deadlineMs" (${context.deadlineMs}): the update must arrive before the deadline`,
      );
    }
    out.timeBudgetMs = training.timeBudgetMs;
  }
  if (training.cpuShare !== undefined) out.cpuShare = training.cpuShare;
  if (training.schedule !== undefined) {
    out.schedule = validateLrSchedule('training.schedule', training.schedule, context.learningRate);
  }
  if (training.augmentation !== undefined) {
    const rank = context.input.shape.length;
    if (rank !== 2 && rank !== 3) {
      throw new PollenError(
        'INVALID_TASK',
        `"training.augmentation" rotates and shifts images: "input.shape" must be [height, width] or [height, width, channels], got [${context.input.shape.join(', ')}]`,
      );
    }
    const a = training.augmentation;
    out.augmentation = { rotationDeg: a.rotationDeg ?? 0, translate: a.translate ?? 0, seed: a.seed ?? 0 };
  }
  return out;
}
