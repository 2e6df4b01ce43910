export type { TopologyModel } from './artifacts.ts';
export { MODEL_LIMITS, manifestPaths, modelFromArtifacts, withoutInitialWeights } from './artifacts.ts';
export { Augmenter } from './augment.ts';
export { initTf } from './backend.ts';
export { base64ToBytes, bytesToBase64 } from './base64.ts';
export type { CheckedExample, ExampleErrorCode, ExampleRefusal } from './check-example.ts';
export { checkExamples } from './check-example.ts';
export { decodeExampleSet, encodeExampleSet } from './codec.ts';
export { evaluate, heldOutReport } from './evaluate.ts';
export type { ExampleSet, ExampleTask, ExampleValues, LabelDtype } from './examples.ts';
export {
  allocate,
  concatExamples,
  inputSize,
  labelDtype,
  labelSize,
  pickExamples,
} from './examples.ts';
export type {
  CausalSelfAttentionArgs,
  LayerNormArgs,
  LoraDenseArgs,
  OneHotArgs,
  PositionEmbeddingArgs,
} from './layers/index.ts';
export {
  CausalSelfAttention,
  LastPosition,
  LayerNorm,
  LoraDense,
  mergeLora,
  OneHot,
  PositionEmbedding,
  withLora,
} from './layers/index.ts';
export type { LossTask } from './losses.ts';
export { batchLoss, EPSILON } from './losses.ts';
export type { ScoreTask } from './metrics.ts';
export { MetricAccumulator, rocAuc } from './metrics.ts';
export type { ModelTask } from './model.ts';
export { buildModel, checkModelFits, modelTopology } from './model.ts';
export type { NextCharTransformerOptions } from './next-char-transformer.ts';
export { nextCharTransformer } from './next-char-transformer.ts';
export type { TrainClock } from './pace.ts';
export { expectCpuShare, Pacer, realClock } from './pace.ts';
export { batchTensors, inputTensor, targetTensor } from './preprocess.ts';
export type { BatchSource } from './source.ts';
export { arraySource, permutation } from './source.ts';
export type {
  Baseline,
  CharCoding,
  CharSuggestion,
  IdExamples,
  NextCharExamples,
  Ranked,
} from './text/index.ts';
export {
  contextIds,
  decodeText,
  encodeText,
  fnv1a32,
  hashedBagOfWords,
  htmlText,
  majorityBaseline,
  messageFeatures,
  messageText,
  nextCharExamples,
  ngramBaselines,
  normalizeText,
  tokenize,
  topChars,
  topK,
  UNKNOWN_CHAR,
  UNKNOWN_ID,
} from './text/index.ts';
export type {
  LocalDeviceInput,
  LocalResult,
  LocalStrategyInput,
  Progress,
  TrainTask,
} from './train.ts';
export { trainLocal } from './train.ts';
export {
  buildTrainingModel,
  frozenVariables,
  getRoundVector,
  layoutOf,
  readVector,
  roundVariables,
  setRoundVector,
  type Trainable,
  trainableModel,
  trainableOf,
  writeVector,
} from './trainable.ts';
export { type ExportForm, type SavedModel, trainedModel } from './trained-export.ts';
export { getFlatWeights, setFlatWeights, weightSpecOf } from './weights.ts';
