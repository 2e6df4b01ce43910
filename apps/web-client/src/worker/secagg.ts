import type {
  RoundSecAgg,
  SecAggKeysEvent,
  SecAggReport,
  SecAggRequestEvent,
  SecAggSharesEvent,
} from '@pollen/fl-core';
import { inputParts, SecureRounds } from '@pollen/participation';

/**
 * The client side of secure aggregation (SecAgg+), in the training worker: the page relays
 * the round's SecAgg block and the coordinator's stage messages here, and every payload the
 * coordinator must get goes back out as a `secagg-send` (the page only forwards it). The keys,
 * the self-mask seed and the shares held for neighbours never leave the worker; the state
 * machine is @pollen/participation's SecureRounds, which Node clients run too.
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

function trace(roundId: number, stage: SecAggTrace['stage'], delta: Float32Array | null): void {
  const scope = globalThis as { pollenSecAgg?: SecAggTrace };
  const previous = scope.pollenSecAgg?.roundId === roundId ? scope.pollenSecAgg.delta : null;
  scope.pollenSecAgg = { roundId, stage, delta: delta ?? previous };
}

/**
 * The worker's secure rounds (participation's SecureRounds), replying through `post`; each step's
 * errors abort this device's side of the round and are reported, never thrown.
 */
export function secAggSteps(post: Post): (req: SecAggWorkerRequest) => void {
  const rounds = new SecureRounds({
    randomBytes,
    send: (roundId, event, payload) => post({ type: 'secagg-send', roundId, event, payload }),
    fail: (roundId, code, message) => post({ type: 'secagg-error', roundId, code, message }),
    stage: trace,
  });
  return (req) => {
    if (req.step !== 'input') {
      rounds.handle(req);
      return;
    }
    const parts = inputParts(
      new Float32Array(req.delta),
      req.controlDelta ? new Float32Array(req.controlDelta) : null,
      req.clipBit,
      req.steps,
    );
    rounds.handle({ step: 'input', roundId: req.roundId, parts, report: req.report });
  };
}
