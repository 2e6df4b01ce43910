import { type Static, Type } from '@sinclair/typebox';
import { PollenError } from './errors.ts';
import { checkSchema } from './task/check-schema.ts';

/**
 * Learning-rate schedules over rounds (docs/tasks.md, "Schedules"). The round index t is the
 * model version a round trains from: 0 for the first round, so every schedule starts at its
 * base rate. One schedule kind serves the clients' learning rate (`training.schedule`, resolved
 * by the coordinator and sent with each round start) and the server optimizer's
 * (`strategy.serverSchedule`, applied at each commit).
 */
export const LrScheduleSchema = Type.Union(
  [
    Type.Object({ kind: Type.Literal('constant') }, { additionalProperties: false }),
    Type.Object(
      {
        kind: Type.Literal('exponential'),
        decay: Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'lr_t = base * decay^t' }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Literal('step'),
        every: Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Rounds between drops' }),
        factor: Type.Number({
          exclusiveMinimum: 0,
          maximum: 1,
          description: 'lr_t = base * factor^floor(t / every)',
        }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Literal('cosine'),
        rounds: Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Rounds to reach minLr' }),
        minLr: Type.Optional(Type.Number({ minimum: 0, description: 'The floor (default 0)' })),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'A learning-rate schedule over rounds (docs/tasks.md)' },
);
export type LrSchedule = Static<typeof LrScheduleSchema>;

export const CONSTANT_SCHEDULE: LrSchedule = { kind: 'constant' };

/**
 * Check an untrusted schedule (`undefined`: constant), naming the field `path` in errors;
 * a cosine floor must lie below the base rate.
 */
export function validateLrSchedule(path: string, value: unknown, base: number): LrSchedule {
  if (value === undefined) return CONSTANT_SCHEDULE;
  checkSchema(LrScheduleSchema, value, 'INVALID_TASK', path);
  const schedule = value as LrSchedule;
  if (schedule.kind === 'cosine' && (schedule.minLr ?? 0) > base) {
    throw new PollenError(
      'INVALID_TASK',
      `"${path}.minLr" (${schedule.minLr}) must not exceed the base learning rate ${base}`,
    );
  }
  return schedule;
}

/**
 * The learning rate at round t (t >= 0) for base rate `base`:
 * constant: base; exponential: base * decay^t; step: base * factor^floor(t / every);
 * cosine (Loshchilov and Hutter 2017, "SGDR", without restarts):
 * minLr + (base - minLr) * (1 + cos(pi * min(t, rounds) / rounds)) / 2.
 */
export function lrAt(base: number, schedule: LrSchedule, round: number): number {
  const t = Math.max(0, Math.floor(round));
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'exponential':
      return base * schedule.decay ** t;
    case 'step':
      return base * schedule.factor ** Math.floor(t / schedule.every);
    case 'cosine': {
      const min = schedule.minLr ?? 0;
      const progress = Math.min(t, schedule.rounds) / schedule.rounds;
      return min + ((base - min) * (1 + Math.cos(Math.PI * progress))) / 2;
    }
  }
}
