import { encodeDense } from '@pollen/compression';
import { builtinShards, builtinSplit, loadTaskFile } from '@pollen/coordinator';
import {
  hashSeed,
  type MetricValues,
  seededRng,
  shuffle,
  type TaskSpec,
  type TrainableSpec,
  type TrainingSpec,
  WeightedAccumulator,
} from '@pollen/fl-core';
import {
  arraySource,
  buildTrainingModel,
  evaluate,
  frozenVariables,
  getRoundVector,
  initTf,
  pickExamples,
  readVector,
  setRoundVector,
  trainLocal,
} from '@pollen/ml';
import { encodeRoundUpload } from '@pollen/participation';

// One federated fine-tuning of the built-in `next-char-finetune` task in one Node process per
// setting (docs/design.md, "Fine-tuning"), with the code each side runs for real: the devices'
// `trainLocal` on the setting's trainable part of the pretrained transformer, the SDK's upload
// encoder, FedAvg of the round vectors; held-out perplexity on the fine-tuning genres' held-out
// documents after every round. Every setting sees the same clients in the same rounds.

/** The federation every setting of one run shares. */
export interface FinetuneFederation {
  /** Clients (documents) per round, drawn without replacement from the task's shards. */
  readonly clients: number;
  readonly rounds: number;
  /** Each client's training examples, its document's first ones; 0: all of them. */
  readonly maxExamples: number;
  /** Held-out examples scored after each round (evenly spaced over the held-out set). */
  readonly heldOut: number;
  /** Documents (clients) in the federation, drawn from the task's shards; each round's come from them. */
  readonly pool: number;
  /**
   * Each client's last `heldOutFraction` of its windows (the later text of its document) is
   * held out, and the run is scored on the pool's held-out text: what its clients will type next.
   * 0: scored on the task's held-out documents instead (texts no client holds).
   */
  readonly heldOutFraction: number;
  readonly seed: number;
  /** 'natural': one document per client (the task's); 'iid': the training text dealt evenly. */
  readonly partition: 'natural' | 'iid';
  /** Local training; its learning rate is the setting's when the setting names one. */
  readonly training: TrainingSpec;
}

/** One row: what trains; null trains nothing (the pretrained base alone). */
export interface FinetuneSetting {
  readonly label: string;
  readonly trainable: TrainableSpec | null;
  /** The local learning rate of this row (the federation's when absent). */
  readonly learningRate?: number;
}

export interface FinetuneResult {
  readonly label: string;
  readonly trainable: TrainableSpec | null;
  readonly learningRate: number;
  /** Values in a round's vector: what is trained and uploaded. */
  readonly trainableValues: number;
  /** Bytes of one client's upload frame (mean over the run; 0 for the base). */
  readonly uploadBytes: number;
  /** Bytes of one client's round download (the round's weights frame). */
  readonly downloadBytes: number;
  /** Bytes of the frozen base, downloaded once per device (0 when everything trains). */
  readonly baseBytes: number;
  /** Held-out metrics of the pretrained base and after each round (index 0: before training). */
  readonly metrics: MetricValues[];
  readonly seconds: number;
}

/** The built-in fine-tuning task with the federation's training block. */
export async function finetuneTask(fed: FinetuneFederation): Promise<TaskSpec> {
  const spec = await loadTaskFile('next-char-finetune');
  const data = fed.partition === 'iid' ? { ...spec.data!, partition: { kind: 'iid' as const } } : spec.data;
  return { ...spec, ...(data ? { data } : {}), training: { ...spec.training, ...fed.training } };
}

/** The federation's documents and the clients of each round: the same draw for every setting of a run. */
export function roundClients(
  fed: FinetuneFederation,
  shards: number,
): { pool: number[]; rounds: number[][] } {
  const rng = seededRng(hashSeed(`finetune-clients:${fed.seed}`));
  const all = Array.from({ length: shards }, (_, i) => i);
  const pool = fed.pool > 0 ? shuffle(all, rng).slice(0, Math.min(fed.pool, shards)) : all;
  const rounds = Array.from({ length: fed.rounds }, () => shuffle([...pool], rng).slice(0, fed.clients));
  return { pool, rounds };
}

/** A client's windows: the first ones to train on (at most `maxExamples`), its last `heldOutFraction` held out. */
function splitDocument(
  rows: readonly number[],
  fed: FinetuneFederation,
): { train: number[]; heldOut: number[] } {
  const cut = fed.heldOutFraction > 0 ? Math.floor(rows.length * (1 - fed.heldOutFraction)) : rows.length;
  const train = rows.slice(0, cut);
  return { train: fed.maxExamples > 0 ? train.slice(0, fed.maxExamples) : train, heldOut: rows.slice(cut) };
}

/** Evenly spaced indices of `count` out of `total`. */
function evenly(total: number, count: number): number[] {
  const n = Math.min(total, count);
  return Array.from({ length: n }, (_, i) => Math.floor((i * total) / n));
}

/** Fine-tune with one setting: FedAvg of the trainable part, every round's clients training once. */
export async function simulateFinetune(
  fed: FinetuneFederation,
  setting: FinetuneSetting,
  onRound?: (label: string, round: number, metrics: MetricValues) => void,
): Promise<FinetuneResult> {
  const started = performance.now();
  await initTf();
  const base = await finetuneTask(fed);
  const learningRate = setting.learningRate ?? base.training.learningRate;
  const spec: TaskSpec = {
    ...base,
    training: {
      ...base.training,
      learningRate,
      ...(setting.trainable ? { trainable: setting.trainable } : {}),
    },
  };
  const trainable = setting.trainable ?? { kind: 'all' as const };
  const split = builtinSplit(spec)!;
  const shards = builtinShards(spec);
  const plan = roundClients(fed, shards.length);
  const documents = new Map(plan.pool.map((shard) => [shard, splitDocument(shards[shard]!, fed)]));
  const heldOutRows =
    fed.heldOutFraction > 0 ? plan.pool.flatMap((shard) => documents.get(shard)!.heldOut) : null;
  const heldOut = heldOutRows
    ? pickExamples(
        spec,
        split.train,
        evenly(heldOutRows.length, fed.heldOut).map((i) => heldOutRows[i]!),
      )
    : pickExamples(spec, split.test, evenly(split.test.count, fed.heldOut));
  const model = await buildTrainingModel(spec, trainable);
  try {
    let global = await getRoundVector(model, trainable);
    const d = global.length;
    const frozen = await readVector(frozenVariables(model, trainable));
    const score = async () => {
      setRoundVector(model, trainable, global);
      return evaluate(model, arraySource(spec, heldOut), spec);
    };
    const metrics: MetricValues[] = [await score()];
    onRound?.(setting.label, 0, metrics[0]!);
    const meta = { round: 0, taskTag: hashSeed(spec.id) };
    const downloadBytes = encodeDense(global, spec.codec, meta).byteLength;
    const baseBytes = frozen.length > 0 ? encodeDense(frozen, 'f32', meta).byteLength : 0;
    let bytes = 0;
    let uploads = 0;
    if (setting.trainable) {
      for (let round = 1; round <= fed.rounds; round++) {
        const sum = new WeightedAccumulator(d);
        for (const shard of plan.rounds[round - 1]!) {
          const source = arraySource(spec, pickExamples(spec, split.train, documents.get(shard)!.train));
          const result = await trainLocal(model, source, global, spec.training, spec, undefined, {
            trainable,
          });
          const rng = seededRng(hashSeed(`finetune-upload:${fed.seed}:${round}:${shard}`));
          const sent = encodeRoundUpload(result.delta, { roundId: round, codec: spec.codec }, null, rng);
          bytes += sent.frame.byteLength;
          uploads++;
          sum.add(result.delta, result.numExamples);
        }
        const mean = sum.mean();
        const next = new Float32Array(d);
        for (let i = 0; i < d; i++) next[i] = global[i]! + mean[i]!;
        global = next;
        metrics.push(await score());
        onRound?.(setting.label, round, metrics.at(-1)!);
      }
    }
    return {
      label: setting.label,
      trainable: setting.trainable,
      learningRate,
      trainableValues: d,
      uploadBytes: uploads > 0 ? bytes / uploads : 0,
      downloadBytes: setting.trainable ? downloadBytes : 0,
      baseBytes,
      metrics,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    model.dispose();
  }
}
