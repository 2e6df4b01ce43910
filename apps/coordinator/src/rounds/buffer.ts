import {
  type OperatorRoundStaleness,
  type StalenessConfig,
  stalenessWeight,
  WeightedAccumulator,
} from '@pollen/fl-core';
import type { RoundRecord } from '../store/types.ts';
import { buildRecord, Tally } from './record.ts';
import type { AcceptedUpdate } from './round.ts';

/** A full buffer's aggregate, ready for the server strategy. */
export interface BufferAggregate {
  /** sum_i s(tau_i) n_i delta_i / sum_i n_i over the updates within tau_max. */
  readonly delta: Float32Array;
  readonly staleness: OperatorRoundStaleness;
}

/**
 * One FedBuff buffer (Nguyen et al. 2022, Algorithm 1): the updates that arrive until K are in,
 * whichever model version each was trained on. Updates are summed per base version, so the
 * memory is O(d) per distinct version (at most tau_max + 1 of them), and each group's
 * staleness is taken when the buffer is aggregated, against the version it is applied onto.
 *
 * The weight of an update is its example count times s(tau); the sum is divided by the example
 * counts alone, so a stale update pulls less, as in FedBuff's (1/K) sum s(tau_i) Delta_i.
 */
export class Buffer {
  readonly taskId: string;
  readonly roundId: number;
  /** The model version when the buffer opened. */
  readonly baseVersion: number;
  readonly startedAt = Date.now();
  private readonly dimension: number;
  private readonly groups = new Map<number, WeightedAccumulator>();
  /** Contributors and the round of the hand-out each update came from. */
  readonly contributors = new Map<string, number>();
  private readonly tally = new Tally();
  /** Models handed out while this buffer was open, and those handed back unused. */
  private handouts = 0;
  private lost = 0;

  constructor(options: { taskId: string; roundId: number; baseVersion: number; dimension: number }) {
    this.taskId = options.taskId;
    this.roundId = options.roundId;
    this.baseVersion = options.baseVersion;
    this.dimension = options.dimension;
  }

  get count(): number {
    return this.contributors.size;
  }

  has(clientId: string): boolean {
    return this.contributors.has(clientId);
  }

  noteHandout(bytes: number): void {
    this.handouts++;
    this.tally.bytesDown += bytes;
  }

  noteLost(): void {
    this.lost++;
  }

  noteRejected(): void {
    this.tally.rejected++;
  }

  /** Fold in a validated update trained on `version`, handed out in round `roundId`. */
  /** The versions the buffered updates were trained on (retention keeps them while the buffer is open). */
  versions(): number[] {
    return [...this.groups.keys()];
  }

  add(update: AcceptedUpdate, version: number, roundId: number): void {
    let group = this.groups.get(version);
    if (!group) {
      group = new WeightedAccumulator(this.dimension);
      this.groups.set(version, group);
    }
    if (update.delta instanceof Float32Array) group.add(update.delta, update.numExamples);
    else group.addSparse(update.delta, update.numExamples);
    this.contributors.set(update.clientId, roundId);
    this.tally.bytesUp += update.bytes;
    this.tally.count(update);
  }

  /**
   * The staleness-weighted mean against model version `current`, or null when every update is
   * past tau_max.
   */
  aggregate(current: number, config: StalenessConfig): BufferAggregate | null {
    const sum = new Float64Array(this.dimension);
    let totalWeight = 0;
    let weightSum = 0;
    let kept = 0;
    let droppedStale = 0;
    let maxTau = 0;
    const byTau: Record<string, number> = {};
    for (const [version, group] of this.groups) {
      const tau = Math.max(0, current - version);
      const s = stalenessWeight(tau, config);
      if (s === 0) {
        droppedStale += group.count;
        continue;
      }
      // group.mean() * group.weight is the group's example-weighted sum.
      const mean = group.mean();
      const w = group.weight;
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + s * w * mean[i]!;
      totalWeight += w;
      weightSum += s * group.count;
      kept += group.count;
      maxTau = Math.max(maxTau, tau);
      byTau[String(tau)] = (byTau[String(tau)] ?? 0) + group.count;
    }
    if (kept === 0) return null;
    const delta = new Float32Array(this.dimension);
    for (let i = 0; i < delta.length; i++) delta[i] = sum[i]! / totalWeight;
    return {
      delta,
      staleness: {
        tau: maxTau,
        weight: weightSum / kept,
        byTau,
        ...(droppedStale > 0 ? { droppedStale } : {}),
      },
    };
  }

  /** The buffer's round record as it stands (record.ts). */
  record(fields: Partial<RoundRecord> = {}): RoundRecord {
    return buildRecord(
      {
        taskId: this.taskId,
        roundId: this.roundId,
        baseVersion: this.baseVersion,
        startedAt: this.startedAt,
        selected: this.handouts,
        reported: this.contributors.size,
        dropped: this.lost,
        deadlineHit: false,
        reason: null,
        privacy: null,
        tally: this.tally,
        extra: { mode: 'buffered' },
      },
      fields,
    );
  }
}
