import type { RoundStartMessage } from '@pollen/fl-core';
import type { RoundEnd, SharePlan } from '../rounds/cluster-port.ts';
import type { RelayForward } from './secagg-relay.ts';

export type { RoundEnd };

/** What the nodes of a cluster tell each other through the Socket.io adapter (`serverSideEmit`). */

/** What the lease holder tells the other nodes when it opens a round. */
export interface RoundPlan extends SharePlan {
  readonly taskId: string;
  readonly roundId: number;
  readonly holder: string;
  readonly baseVersion: number;
  readonly deadline: number;
  readonly cohort: readonly { readonly clientId: string; readonly nodeId: string }[];
  readonly start: RoundStartMessage;
}

/** A follower's forward to the holder of a secure round. */
export type SecAggForward = RelayForward & { readonly taskId: string; readonly roundId: number };

/** A follower wrote its partial sum of a round to Redis (partials.ts) for the holder to add. */
export interface PartialReady {
  readonly taskId: string;
  readonly roundId: number;
  readonly nodeId: string;
}

/** The cluster's server-side events: the third type parameter of the Socket.io `Server`. */
export interface ClusterServerEvents {
  'pollen:plan': (plan: RoundPlan) => void;
  'pollen:partial': (msg: PartialReady) => void;
  'pollen:secagg': (msg: SecAggForward) => void;
  'pollen:end': (end: RoundEnd) => void;
}
