import {
  type DeviceReadings,
  type EligibilitySettings,
  type EligibilityVerdict,
  judgeEligibility,
} from '@pollen/fl-core';

/**
 * What the browser says about the device, read for the task's eligibility conditions
 * (fl-core's task/eligibility.ts decides): the Battery Status API (`navigator.getBattery`),
 * the Network Information API (`navigator.connection`: a cellular `type` or `saveData` is
 * metered), the page's visibility and its last input, and whether idle callbacks exist.
 * Every change any of them reports calls `onChange` at once with the new verdict.
 */

interface BatteryLike extends EventTarget {
  readonly charging: boolean;
  readonly level: number;
}

interface ConnectionLike extends EventTarget {
  readonly type?: string;
  readonly saveData?: boolean;
  /** Not standard, but where a browser has it, it is the answer. */
  readonly metered?: boolean;
}

/** Connection types that cost the visitor money or data allowance. */
const METERED_TYPES: ReadonlySet<string> = new Set(['cellular']);

const INPUT_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart'] as const;

export class DeviceConditions {
  private battery: BatteryLike | null = null;
  private connection: ConnectionLike | null = null;
  private lastInput: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private verdict: EligibilityVerdict | null = null;
  private readonly cleanups: (() => void)[] = [];
  private settings: EligibilitySettings | null = null;
  private background: boolean;

  constructor(
    private readonly onChange: (verdict: EligibilityVerdict) => void,
    options: { readonly background: boolean },
  ) {
    this.background = options.background;
    this.lastInput = performance.now();
  }

  /** Start watching for the task's conditions (null: visibility alone). */
  async watch(settings: EligibilitySettings | null): Promise<void> {
    this.settings = settings;
    const nav = globalThis.navigator as
      | (Navigator & { getBattery?: () => Promise<BatteryLike>; connection?: ConnectionLike })
      | undefined;
    if (nav?.getBattery) {
      try {
        this.battery = await nav.getBattery();
      } catch {
        // Refused by a permissions policy: the same as a browser without the API.
        this.battery = null;
      }
    }
    this.connection = nav?.connection ?? null;
    const update = (): void => this.update();
    for (const type of ['chargingchange', 'levelchange'] as const) this.listen(this.battery, type, update);
    this.listen(this.connection, 'change', update);
    if (typeof document !== 'undefined') {
      this.listen(document, 'visibilitychange', update);
      const onInput = (): void => {
        this.lastInput = performance.now();
        this.update();
      };
      for (const type of INPUT_EVENTS) this.listen(document, type, onInput, { passive: true });
    }
    this.update();
  }

  /** The visitor changed the background opt-in. */
  setBackground(background: boolean): void {
    this.background = background;
    this.update();
  }

  /** The verdict as it stands. */
  current(): EligibilityVerdict {
    return this.verdict ?? judgeEligibility(this.settings, this.read());
  }

  stop(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private listen(
    target: EventTarget | null,
    type: string,
    listener: () => void,
    options?: AddEventListenerOptions,
  ): void {
    if (!target) return;
    target.addEventListener(type, listener, options);
    this.cleanups.push(() => target.removeEventListener(type, listener, options));
  }

  private read(): DeviceReadings {
    const visible = typeof document === 'undefined' || document.visibilityState === 'visible';
    const c = this.connection;
    return {
      visible,
      background: this.background,
      battery: this.battery ? { charging: this.battery.charging, level: this.battery.level } : null,
      network: c
        ? { metered: c.metered === true || METERED_TYPES.has(c.type ?? ''), saveData: c.saveData === true }
        : null,
      inputIdleMs: performance.now() - this.lastInput,
      idleCallbacks: typeof globalThis.requestIdleCallback === 'function',
    };
  }

  private update(): void {
    const next = judgeEligibility(this.settings, this.read());
    const changed =
      !this.verdict ||
      this.verdict.eligible !== next.eligible ||
      this.verdict.blockedBy.join() !== next.blockedBy.join();
    this.verdict = next;
    this.scheduleIdleCheck();
    if (changed) this.onChange(next);
  }

  /** The idle condition turns true with no event to say so: check again when it would. */
  private scheduleIdleCheck(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const seconds = this.settings?.idleSeconds ?? 0;
    if (seconds === 0 || !this.verdict?.blockedBy.includes('not-idle')) return;
    const wait = Math.max(50, seconds * 1000 - (performance.now() - this.lastInput));
    this.timer = setTimeout(() => this.update(), wait);
  }
}

/** What each condition means, for the contributor page. */
export const CONDITION_TEXT: Readonly<Record<EligibilityVerdict['blockedBy'][number], string>> = {
  hidden: 'this tab is hidden (tick "keep training while hidden" to train anyway)',
  'not-charging': 'the task trains only while the device is charging',
  'battery-low': 'the battery is below the level the task asks for',
  metered: 'the task does not train on a metered or data-saving connection',
  'not-idle': 'the task trains only while the device is idle (no input for a while)',
  'no-battery-api': 'this browser does not report the battery, and the task requires it',
  'no-network-api': 'this browser does not report the connection type, and the task requires it',
  'no-idle-api': 'this browser has no idle callbacks, and the task requires them',
};
