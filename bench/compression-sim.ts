import { encodeModelDelta, type ModelDeltaSettings } from '@pollen/compression';
import { CoordinateSets, decodeRoundUpload, loadMnist, pick, roundUpload } from '@pollen/coordinator';
import {
  hashSeed,
  partitionDirichlet,
  partitionIid,
  seededRng,
  type TaskSpec,
  type TrainingSpec,
  validateTaskSpec,
  WeightedAccumulator,
} from '@pollen/fl-core';
import { type BatchSource, buildModel, initTf, setFlatWeights, trainLocal } from '@pollen/ml';
import { encodeRoundUpload } from '@pollen/participation';
import { evaluateMnist, mnistTask, sourceOf } from './lib/mnist.ts';
import { initialWeights } from './strategies-sim.ts';

// One federated MNIST training in one Node process per compression setting, with the code
// each side runs for real: the SDK's upload module on every client (error feedback, top-k or
// the shared set, quantization, the frame; the residual kept per client as IndexedDB keeps
// it), and on the server the coordinator's decoder for the round's codec, its O(k) sparse
// accumulation, its shared coordinate sets (coordinates.ts) and FedAvg's step.
//
// Downloads: without a `download` setting every client receives the global model as a dense
// float32 frame each round (32 + 4d bytes). With one, round 1 still sends the initial model
// densely and every later round a model delta of @pollen/compression (`encodeModelDelta`): the
// clients train from the reconstructed broadcast w^_v = applyModelDelta(w^_{v-1},
// encode(w_v - w^_{v-1})), the very function a device runs, and the server adds the mean delta
// to its true w_v (so what one broadcast leaves out is in the next one's difference).

/** The federation every setting of one run shares: same split, same initial model, same seed. */
export interface CompressionFederation {
  readonly clients: number;
  /** How the training digits are split: IID shards, or Dirichlet(alpha) over labels. */
  readonly split: 'iid' | 'dirichlet';
  /** Dirichlet concentration (split 'dirichlet'). */
  readonly alpha: number;
  readonly rounds: number;
  readonly hidden: readonly number[];
  readonly training: TrainingSpec;
  readonly seed: number;
}

/** One row: a task's `compression` block, validated as a task would be. */
export interface CompressionSetting {
  readonly label: string;
  readonly compression: Record<string, unknown>;
  /** The model downloads' delta codec; absent: a dense float32 model every round. */
  readonly download?: ModelDeltaSettings;
}

export interface CompressionResult {
  readonly label: string;
  readonly compression: TaskSpec['compression'];
  readonly split: CompressionFederation['split'];
  readonly seed: number;
  /** Mean bytes of one client's upload frame, over every upload of the run. */
  readonly uploadBytes: number;
  /** Mean bytes of one client's upload frame in each round (index 0 = round 1). */
  readonly uploadBytesPerRound: number[];
  /** Bytes of one client's model download in each round (index 0 = round 1). */
  readonly downloadBytesPerRound: number[];
  /** Held-out accuracy after each round (index 0 = round 1). */
  readonly accuracy: number[];
  readonly seconds: number;
}

/** The task spec a setting runs under, checked by fl-core's validator. */
export function settingSpec(fed: CompressionFederation, setting: CompressionSetting): TaskSpec {
  return validateTaskSpec({
    id: 'bench-compression',
    name: 'bench',
    modelTopology: {},
    inputShape: [784],
    numClasses: 10,
    dataset: {
      name: 'mnist',
      partition: fed.split === 'iid' ? { kind: 'iid' } : { kind: 'dirichlet', alpha: fed.alpha },
      numShards: fed.clients,
      seed: fed.seed,
    },
    training: fed.training,
    rounds: { cohortSize: fed.clients, minReports: fed.clients, deadlineMs: 60_000 },
    compression: setting.compression,
  });
}

/** Train `fed.rounds` rounds, every client in every round, with the setting's uploads. */
export async function simulateCompression(
  fed: CompressionFederation,
  setting: CompressionSetting,
  onRound?: (label: string, round: number, accuracy: number) => void,
): Promise<CompressionResult> {
  const started = performance.now();
  const spec = settingSpec(fed, setting);
  await initTf();
  const { train, test } = loadMnist();
  const parts =
    fed.split === 'iid'
      ? partitionIid(train.count, fed.clients, seededRng(fed.seed))
      : partitionDirichlet(train.labels, fed.clients, fed.alpha, seededRng(fed.seed));
  const shards: BatchSource[] = parts.map((indices) => sourceOf(pick(train, indices)));
  const task = mnistTask(fed.hidden);
  const model = await buildModel(task);
  let global = initialWeights(
    model.weights.map((w) => w.shape.map((d) => d ?? 1)),
    hashSeed(`init:${fed.seed}`),
  );
  const d = global.length;
  const residuals: (Float32Array | null)[] = shards.map(() => null);
  // The model the clients hold and train from (w^); the global one when downloads are dense.
  let broadcast: Float32Array | null = null;
  const coordinates = new CoordinateSets();
  const accuracy: number[] = [];
  const uploadBytesPerRound: number[] = [];
  const downloadBytesPerRound: number[] = [];
  let bytes = 0;
  let uploads = 0;
  try {
    for (let round = 1; round <= fed.rounds; round++) {
      const upload = roundUpload(spec, d, coordinates.forRound(spec, round, d), round);
      if (setting.download && broadcast) {
        const { frame, reconstructed } = encodeModelDelta(global, broadcast, setting.download, { round });
        downloadBytesPerRound.push(frame.byteLength);
        broadcast = reconstructed;
      } else {
        downloadBytesPerRound.push(32 + 4 * d);
        broadcast = global;
      }
      let roundBytes = 0;
      const msg = {
        roundId: round,
        codec: spec.codec,
        ...(upload.message ? { compression: upload.message } : {}),
      };
      const plan = upload.message ? upload.plan : null;
      const sum = new WeightedAccumulator(d);
      for (let k = 0; k < shards.length; k++) {
        const result = await trainLocal(model, shards[k]!, broadcast, fed.training, task);
        const rng = seededRng(hashSeed(`upload:${fed.seed}:${round}:${k}`));
        const sent = encodeRoundUpload(result.delta, msg, residuals[k]!, rng);
        if (msg.compression?.errorFeedback) residuals[k] = sent.residual;
        bytes += sent.frame.byteLength;
        roundBytes += sent.frame.byteLength;
        uploads++;
        const { delta } = decodeRoundUpload(sent.frame, plan, d);
        if (delta instanceof Float32Array) sum.add(delta, result.numExamples);
        else sum.addSparse(delta, result.numExamples);
      }
      uploadBytesPerRound.push(roundBytes / shards.length);
      const mean = sum.mean();
      const next = new Float32Array(d);
      for (let i = 0; i < d; i++) next[i] = global[i]! + mean[i]!;
      global = next;
      coordinates.observe(spec, round, mean);
      setFlatWeights(model, global);
      const { accuracy: acc } = await evaluateMnist(model, test);
      accuracy.push(acc);
      onRound?.(setting.label, round, acc);
    }
  } finally {
    model.dispose();
  }
  return {
    label: setting.label,
    compression: spec.compression,
    split: fed.split,
    seed: fed.seed,
    uploadBytes: bytes / Math.max(1, uploads),
    uploadBytesPerRound,
    downloadBytesPerRound,
    accuracy,
    seconds: (performance.now() - started) / 1000,
  };
}
