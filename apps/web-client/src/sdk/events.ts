import type { Backend, EligibilityVerdict, HeldOutReport, MetricValues } from '@pollen/fl-core';
import type { UploadPrivacy } from '@pollen/participation';
import type { HistoryEntry } from './storage.ts';

/** What a Pollen client tells the page embedding it. */
export interface ClientEvents {
  /** The training backend was chosen (and why better ones were skipped). */
  backend: { backend: Backend; skipped: readonly { backend: Backend; reason: string }[] };
  /** Connection and participation state changed. */
  status: { status: ClientStatus; detail: string };
  /** This device was selected for a round. */
  selected: {
    taskId: string;
    roundId: number;
    modelVersion: number;
    deadline: number;
    /**
     * Bytes of the round's start message the device received: the weights (or, under compressed
     * downloads, the deltas from the model it kept), SCAFFOLD's c, the shared coordinates.
     */
    bytesDown: number;
  };
  /**
   * Compressed downloads: the model rebuilt from the one this device kept did not check out, so
   * the round's whole model came down too (`round:model`), `bytesDown` more bytes.
   */
  refetched: { roundId: number; bytesDown: number };
  /** Local training progress. */
  progress: { roundId: number; epoch: number; epochs: number; batch: number; batches: number; loss: number };
  /** The update of a round was accepted by the coordinator. */
  uploaded: {
    roundId: number;
    bytes: number;
    numExamples: number;
    /** `loss` and the task's metrics on this device's examples after local training. */
    metrics: MetricValues;
    trainMs: number;
    /** The task's epsilon once this round commits, when the coordinator reports one (private tasks). */
    epsilon?: number | null;
    /**
     * What the task's privacy did to this update: C and whether it clipped, the noise std, the
     * epsilon this round adds and the task's total at delta; null when the task does not clip.
     */
    privacy?: UploadPrivacy | null;
  };
  /**
   * The training worker's tfjs memory after a round: it stays flat across rounds (the model
   * and the data tensors are reused, everything else is disposed).
   */
  memory: { roundId: number; numTensors: number; numBytes: number };
  /** A round joined was added to, or updated in, this device's history (kept in IndexedDB). */
  history: HistoryEntry;
  /**
   * This device answered an evaluation round (task `evaluation.federated`): the global model's
   * metrics on its held-out examples (null: it holds none) and the bytes of the model it received.
   */
  evaluated: { evaluationId: number; modelVersion: number; heldOut: HeldOutReport | null; bytesDown: number };
  /** A round this device took part in ended. */
  roundEnd: { roundId: number; status: 'committed' | 'abandoned'; modelVersion: number };
  /**
   * Whether this device may train now and which of the task's conditions hold it back (not
   * charging, metered, ...); sent at start and on every change. The coordinator hears it at once.
   */
  eligibility: EligibilityVerdict;
  /** The CPU share training uses (the visitor's, capped by the task's `cap`). */
  cpuShare: { share: number; cap: number };
  /** Something went wrong; `code` is a stable Pollen error code when the coordinator sent one. */
  error: { code: string; message: string };
}

export type ClientStatus =
  | 'idle'
  /** Another tab of this browser holds the trainer lock; this one takes over when it stops. */
  | 'standby'
  | 'starting'
  | 'connecting'
  | 'waiting'
  | 'training'
  | 'uploading'
  | 'stopped';

type Listener<T> = (payload: T) => void;

/** A tiny typed event emitter (no DOM EventTarget, so it also works in workers). */
export class Emitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  protected emit<K extends keyof E>(event: K, payload: E[K]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as Listener<E[K]>)(payload);
  }
}
