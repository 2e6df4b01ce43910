import {
  type RoundSecAgg,
  type SecAggKeysEvent,
  type SecAggReport,
  type SecAggRequestEvent,
  SecAggSession,
  type SecAggSharesEvent,
} from '@pollen/fl-core';

/**
 * The client side of secure aggregation (SecAgg+), in the training worker: the page relays
 * the round's SecAgg block and the coordinator's stage messages here, and every payload the
 * coordinator must get goes back out as a `secagg-send` (the page only forwards it). The keys,
 * the self-mask seed and the shares held for neighbours never leave the worker; fl-core's
 * SecAggSession is the same code the coordinator's Node tests run.
 */

/** Page -> worker: one step of a secure round. */
export type SecAggWorkerRequest =
  | {
      readonly type: 'secagg';
      readonly step: 'start';
      readonly roundId: number;
      readonly taskId: string;
      readonly block: RoundSecAgg;
    }
  | {
      readonly type: 'secagg';
      readonly step: 'keys';
      readonly roundId: number;
      readonly msg: SecAggKeysEvent;
    }
  | {
      readonly type: 'secagg';
      readonly step: 'deliver';
      readonly roundId: number;
      readonly msg: SecAggSharesEvent;
    }
  | {
      readonly type: 'secagg';
      readonly step: 'request';
      readonly roundId: number;
      readonly msg: SecAggRequestEvent;
    }
  | {
      readonly type: 'secagg';
      readonly step: 'input';
      readonly roundId: number;
      /** The update as it would be sent in the clear (clipped and noised already), float32. */
      readonly delta: ArrayBuffer;
      readonly controlDelta: ArrayBuffer | null;
      readonly clipBit: 0 | 1 | null;
      /** FedNova: the local steps; `delta` is then Delta_i / steps. */
      readonly steps: number | null;
      readonly report: SecAggReport;
    }
  | { readonly type: 'secagg'; readonly step: 'abort'; readonly roundId: number };

/** Worker -> page: send this to the coordinator. */
export interface SecAggSendReply {
  readonly type: 'secagg-send';
  readonly roundId: number;
  readonly event: 'secagg:advertise' | 'secagg:shares' | 'secagg:masked' | 'secagg:reveal';
  readonly payload: object;
}

/** Worker -> page: this device's side of the round failed (and was wiped). */
export interface SecAggErrorReply {
  readonly type: 'secagg-error';
  readonly roundId: number;
  readonly code: string;
  readonly message: string;
}

/**
 * What this device did in its last secure round, on the worker's global scope: which stage
 * it reached and the update it masked. It is this device's own data and never leaves it; it is
 * there so a test (or a curious visitor's devtools) can check the coordinator applied the mean
 * of the real updates.
 */
export interface SecAggTrace {
  roundId: number;
  stage: 'advertised' | 'shared' | 'masked' | 'revealed' | 'aborted';
  delta: Float32Array | null;
}

type Post = (reply: SecAggSendReply | SecAggErrorReply) => void;

/** crypto.getRandomValues in chunks of its 64 KiB limit. */
function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += 65_536)
    crypto.getRandomValues(out.subarray(at, Math.min(length, at + 65_536)));
  return out;
}

const sessions = new Map<number, SecAggSession>();

function trace(roundId: number, stage: SecAggTrace['stage'], delta?: Float32Array): void {
  const scope = globalThis as { pollenSecAgg?: SecAggTrace };
  const previous = scope.pollenSecAgg?.roundId === roundId ? scope.pollenSecAgg.delta : null;
  scope.pollenSecAgg = { roundId, stage, delta: delta ?? previous };
}

/** Handle one step; errors abort this device's side of the round and are reported, never thrown. */
export function handleSecAgg(req: SecAggWorkerRequest, post: Post): void {
  const { roundId } = req;
  const send = (event: SecAggSendReply['event'], payload: object | null): void => {
    if (payload) post({ type: 'secagg-send', roundId, event, payload });
  };
  try {
    if (req.step === 'start') {
      for (const [id, old] of sessions) {
        old.abort();
        sessions.delete(id);
      }
      const session = new SecAggSession(req.taskId, roundId, req.block, randomBytes);
      sessions.set(roundId, session);
      send('secagg:advertise', session.advertise());
      trace(roundId, 'advertised');
      return;
    }
    const session = sessions.get(roundId);
    if (!session) return; // a round this device already left
    switch (req.step) {
      case 'keys':
        send('secagg:shares', session.onKeys(req.msg));
        trace(roundId, 'shared');
        return;
      case 'deliver': {
        const masked = session.offerDelivery(req.msg);
        send('secagg:masked', masked);
        if (masked) trace(roundId, 'masked');
        return;
      }
      case 'input': {
        const delta = new Float32Array(req.delta);
        const parts = {
          delta,
          ...(req.controlDelta ? { controlDelta: new Float32Array(req.controlDelta) } : {}),
          ...(req.clipBit === null ? {} : { clipBit: req.clipBit }),
          ...(req.steps === null ? {} : { steps: req.steps }),
        };
        const masked = session.offerInput(delta.length, parts, req.report);
        send('secagg:masked', masked);
        trace(roundId, masked ? 'masked' : 'shared', delta);
        return;
      }
      case 'request':
        send('secagg:reveal', session.onRequest(req.msg));
        trace(roundId, 'revealed');
        sessions.delete(roundId);
        return;
      case 'abort':
        session.abort();
        sessions.delete(roundId);
        trace(roundId, 'aborted');
        return;
    }
  } catch (err) {
    const e = err as { code?: string; message?: string };
    // A stage message sent again after a reconnect, which this device had already answered:
    // the state machine refused it without changing anything, so the round goes on.
    if (e.code === 'SECAGG_STAGE' || e.code === 'REPLAY') return;
    sessions.get(roundId)?.abort();
    sessions.delete(roundId);
    trace(roundId, 'aborted');
    post({
      type: 'secagg-error',
      roundId,
      code: e.code ?? 'CLIENT_ERROR',
      message: e.message ?? String(err),
    });
  }
}
