import type { RobustConfig, RoundSecAgg, RoundStartMessage } from '@pollen/fl-core';
import type { Fence, RoundRecord } from '../store/types.ts';
import type { DrivenRound } from './handle.ts';
import type { Contributor } from './population.ts';
import type { PrivacyPlan } from './privacy.ts';

/**
 * The ports rounds/ declares for running as one node of several; cluster/node.ts implements
 * them (docs/design.md, "Rounds in the coordinator"). rounds/ never imports cluster/.
 */

/** What the other nodes need to run their share of a round with their own clients. */
export interface SharePlan {
  readonly dimension: number;
  readonly target: number;
  readonly robust: RobustConfig;
  readonly scaffold: boolean;
  /** FedNova: the other nodes normalize their clients' updates by their steps too. */
  readonly fednova?: boolean;
  readonly privacy: PrivacyPlan | null;
  /** A secure round: each of the other nodes' clients' SecAgg block of round:start, by client id. */
  readonly secagg?: Readonly<Record<string, RoundSecAgg>>;
}

/** How a round ended, as the lease holder tells the other nodes. */
export interface RoundEnd {
  readonly taskId: string;
  readonly roundId: number;
  readonly status: RoundRecord['status'];
  readonly modelVersion: number;
}

/**
 * What a task runner uses in a cluster: take the task's round lease, select among every
 * node's clients, tell the other nodes about the round it opened and how it ended.
 */
export interface ClusterPort {
  readonly nodeId: string;
  /** The fence to write with, when this node holds (or just took) the task's lease. */
  acquire(taskId: string): Promise<{ fence: Fence; fresh: boolean } | null>;
  /** Every other node's available clients of the task, as contributors to select from. */
  remote(taskId: string): Promise<Contributor[]>;
  /** The holder opened a round: each node with selected clients starts its share of it. */
  opened(round: DrivenRound, start: RoundStartMessage, cohort: readonly Contributor[]): void;
  /** The holder closed a round: each node tells its clients and frees them. */
  ended(end: RoundEnd): void;
}
