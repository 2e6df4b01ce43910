import { EventEmitter } from 'node:events';
import type { Backend, ModelRef } from '@pollen/fl-core';

/** A connected contributor, as the coordinator sees it. */
export interface Contributor {
  readonly socketId: string;
  readonly clientId: string;
  readonly taskId: string;
  backend: Backend;
  numExamples: number;
  eligible: boolean;
  readonly connectedAt: number;
  /** The round this contributor is working on, if any. */
  activeRound: number | null;
  /** The evaluation round it was asked to report in and has not yet (federated-evaluation.ts). */
  activeEvaluation: number | null;
  /**
   * Compressed downloads: the broadcast model it holds, as its hello named it and as this node
   * last sent it; absent or null: none known (it gets the whole model).
   */
  model?: ModelRef | null;
  /** Send an event to this contributor's socket. */
  readonly send: (
    event:
      | 'round:start'
      | 'round:end'
      | 'round:skipped'
      | 'pollen:error'
      | 'secagg:keys'
      | 'secagg:deliver'
      | 'secagg:request'
      | 'eval:start',
    payload: unknown,
  ) => void;
  /** Disconnect this contributor's socket. */
  readonly disconnect: () => void;
  /** In a cluster, the other node this contributor is connected to; absent for this node's own. */
  readonly nodeId?: string;
}

/**
 * The connected population, by socket and by client id. One client id has at most one
 * live socket: a reconnect with the same id replaces the older socket, and keeps the
 * client's place in any round it was selected for.
 */
export class Population extends EventEmitter<{ change: [] }> {
  private readonly bySocket = new Map<string, Contributor>();
  private readonly byClient = new Map<string, Contributor>();

  /** Add a contributor; returns the contributor it replaced, if any. */
  join(contributor: Contributor): Contributor | undefined {
    const previous = this.byClient.get(contributor.clientId);
    if (previous) {
      this.bySocket.delete(previous.socketId);
      contributor.activeRound = previous.activeRound;
      contributor.activeEvaluation = previous.activeEvaluation;
    }
    this.bySocket.set(contributor.socketId, contributor);
    this.byClient.set(contributor.clientId, contributor);
    this.emit('change');
    return previous;
  }

  /** Remove a socket; returns its contributor when it was the live socket of its client. */
  leave(socketId: string): Contributor | undefined {
    const contributor = this.bySocket.get(socketId);
    if (!contributor) return undefined;
    this.bySocket.delete(socketId);
    if (this.byClient.get(contributor.clientId) === contributor) this.byClient.delete(contributor.clientId);
    this.emit('change');
    return contributor;
  }

  bySocketId(socketId: string): Contributor | undefined {
    return this.bySocket.get(socketId);
  }

  byClientId(clientId: string): Contributor | undefined {
    return this.byClient.get(clientId);
  }

  /** Mark a change made to a contributor in place (eligibility, round membership). */
  touch(): void {
    this.emit('change');
  }

  /** Contributors of a task that are eligible, have data and are in no round, training or evaluation. */
  available(taskId: string): Contributor[] {
    const out: Contributor[] = [];
    for (const c of this.byClient.values()) {
      if (c.taskId === taskId && isIdle(c)) out.push(c);
    }
    return out;
  }

  /** Connected contributors, in total and per backend. */
  counts(taskId?: string): {
    total: number;
    /** Connected and eligible (visible, and meeting the task's conditions). */
    eligible: number;
    /** In an evaluation round now. */
    evaluating: number;
    byBackend: Partial<Record<Backend, number>>;
  } {
    const byBackend: Partial<Record<Backend, number>> = {};
    let total = 0;
    let eligible = 0;
    let evaluating = 0;
    for (const c of this.byClient.values()) {
      if (taskId && c.taskId !== taskId) continue;
      total++;
      if (c.eligible) eligible++;
      if (c.activeEvaluation !== null) evaluating++;
      byBackend[c.backend] = (byBackend[c.backend] ?? 0) + 1;
    }
    return { total, eligible, evaluating, byBackend };
  }
}

/** Eligible, holding data, and in no training or evaluation round: who a round may select. */
export function isIdle(c: Contributor): boolean {
  return c.eligible && c.numExamples > 0 && c.activeRound === null && c.activeEvaluation === null;
}
