import { type Static, Type } from '@sinclair/typebox';
import { checkSchema } from './check-schema.ts';

/**
 * When a device may train for a task (docs/tasks.md, "Eligibility"): production systems train
 * only on devices that are charging, on an unmetered network and idle. The task declares the
 * conditions; the device reads the browser's Battery Status and Network Information APIs and its
 * own input (the SDK's eligibility.ts) and decides with {@link judgeEligibility}. Where a
 * browser lacks an API, `whenUnsupported` says whether the condition counts as met.
 */

const Policy = Type.Union([Type.Literal('allow'), Type.Literal('deny')]);
export type UnsupportedPolicy = Static<typeof Policy>;

export const EligibilitySchema = Type.Object(
  {
    charging: Type.Optional(Type.Boolean({ description: 'Train only while plugged in' })),
    minBatteryLevel: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'Train only at or above this battery level' }),
    ),
    unmetered: Type.Optional(
      Type.Boolean({ description: 'Not on a cellular connection nor with Save-Data on' }),
    ),
    idleSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 3600,
        description: 'Train only when the tab is visible and saw no input for this long (0: no condition)',
      }),
    ),
    whenUnsupported: Type.Optional(
      Type.Object(
        { battery: Type.Optional(Policy), network: Type.Optional(Policy), idle: Type.Optional(Policy) },
        {
          additionalProperties: false,
          description: 'Per API, whether a browser without it meets the conditions it serves (default allow)',
        },
      ),
    ),
  },
  { additionalProperties: false, description: 'Device conditions for training (docs/tasks.md)' },
);

/** A task's eligibility conditions, defaults filled in. */
export interface EligibilitySettings {
  readonly charging: boolean;
  /** 0: any level. */
  readonly minBatteryLevel: number;
  readonly unmetered: boolean;
  /** 0: no idle condition. */
  readonly idleSeconds: number;
  readonly whenUnsupported: {
    readonly battery: UnsupportedPolicy;
    readonly network: UnsupportedPolicy;
    readonly idle: UnsupportedPolicy;
  };
}

/** Check an untrusted eligibility block; absent means no condition beyond visibility (null). */
export function validateEligibility(value: unknown): EligibilitySettings | null {
  if (value === undefined) return null;
  checkSchema(EligibilitySchema, value, 'INVALID_TASK', 'eligibility');
  const e = value as Static<typeof EligibilitySchema>;
  return {
    charging: e.charging ?? false,
    minBatteryLevel: e.minBatteryLevel ?? 0,
    unmetered: e.unmetered ?? false,
    idleSeconds: e.idleSeconds ?? 0,
    whenUnsupported: {
      battery: e.whenUnsupported?.battery ?? 'allow',
      network: e.whenUnsupported?.network ?? 'allow',
      idle: e.whenUnsupported?.idle ?? 'allow',
    },
  };
}

/** What a device observes of itself; null where the browser lacks the API. */
export interface DeviceReadings {
  /** The tab is visible. */
  readonly visible: boolean;
  /** The visitor opted in to training while the tab is hidden. */
  readonly background: boolean;
  /** Battery Status API. */
  readonly battery: { readonly charging: boolean; readonly level: number } | null;
  /** Network Information API: a cellular connection type, or Save-Data on. */
  readonly network: { readonly metered: boolean; readonly saveData: boolean } | null;
  /** Milliseconds since the last input event on the page. */
  readonly inputIdleMs: number;
  /** Whether the browser has idle callbacks (requestIdleCallback); false: the idle policy decides. */
  readonly idleCallbacks: boolean;
}

/** A condition that holds a device back. */
export type EligibilityCondition =
  | 'hidden'
  | 'not-charging'
  | 'battery-low'
  | 'metered'
  | 'not-idle'
  | 'no-battery-api'
  | 'no-network-api'
  | 'no-idle-api';

export interface EligibilityVerdict {
  readonly eligible: boolean;
  /** Every condition not met, in a fixed order; empty when eligible. */
  readonly blockedBy: readonly EligibilityCondition[];
}

/**
 * Whether a device may train now, and what holds it back. Visibility (or the background
 * opt-in) always counts; the task's conditions (null: none) come on top.
 */
export function judgeEligibility(
  settings: EligibilitySettings | null,
  readings: DeviceReadings,
): EligibilityVerdict {
  const blocked: EligibilityCondition[] = [];
  if (!readings.visible && !readings.background) blocked.push('hidden');
  if (settings) {
    const { battery, network } = readings;
    const policy = settings.whenUnsupported;
    if (settings.charging || settings.minBatteryLevel > 0) {
      if (!battery) {
        if (policy.battery === 'deny') blocked.push('no-battery-api');
      } else {
        if (settings.charging && !battery.charging) blocked.push('not-charging');
        if (battery.level < settings.minBatteryLevel) blocked.push('battery-low');
      }
    }
    if (settings.unmetered) {
      if (!network) {
        if (policy.network === 'deny') blocked.push('no-network-api');
      } else if (network.metered || network.saveData) blocked.push('metered');
    }
    if (settings.idleSeconds > 0) {
      if (!readings.idleCallbacks && policy.idle === 'deny') blocked.push('no-idle-api');
      else if (!readings.visible || readings.inputIdleMs < settings.idleSeconds * 1000) {
        blocked.push('not-idle');
      }
    }
  }
  return { eligible: blocked.length === 0, blockedBy: blocked };
}
