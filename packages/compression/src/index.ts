export { accumulateSparse } from './accumulate.ts';
export type { PackWidth } from './bitpack.ts';
export { packBits, packedLength, unpackBits } from './bitpack.ts';
export type { Accumulated, AccumulateOptions } from './dgc.ts';
export { accumulate, clipUpdate, maskMomentum, warmupDensity } from './dgc.ts';
export type { ErrorFeedbackStep } from './error-feedback.ts';
export {
  absorbEncodingError,
  compensate,
  errorFeedback,
  errorFeedbackTopK,
  splitAt,
} from './error-feedback.ts';
export type { CodecErrorCode } from './errors.ts';
export { CodecError } from './errors.ts';
export type { ExampleBatch } from './examples.ts';
export { decodeExamples, encodeExamples } from './examples.ts';
export type { FixedPointEncodeOptions, FixedPointOptions, ResolvedFixedPoint } from './fixed-point.ts';
export {
  decodeFixedPointSum,
  encodeFixedPoint,
  maxFixedPointSummands,
  resolveFixedPoint,
} from './fixed-point.ts';
export { fromHalfBits, HALF_MAX, toHalfBits, toHalfBitsSaturating } from './float16.ts';
export type { DecodedFrame, DecodeLimits, DenseCodec, FrameMeta } from './frame.ts';
export { CODECS, decodeDense, encodeDense, FRAME_HEADER_BYTES, FRAME_MAGIC, FRAME_VERSION } from './frame.ts';
export type { Frame, FrameBody, ValuePrecision } from './frame-codec.ts';
export { bodyToDense, bodyToSparse, decodeFrame, encodeFrame } from './frame-codec.ts';
export type { FrameCodec, FrameHeader, FrameLimits } from './frame-header.ts';
export { FRAME_CODECS, readFrameHeader } from './frame-header.ts';
export type { CheckedUpload } from './intake.ts';
export { checkUpload, foldDense } from './intake.ts';
export type { DeltaBits, EncodedModelDelta, ModelDeltaLimits, ModelDeltaSettings } from './model-delta.ts';
export { applyModelDelta, applyModelDeltas, DELTA_CODECS, encodeModelDelta } from './model-delta.ts';
export type { Rng } from './prng.ts';
export { randomInt, sfc32 } from './prng.ts';
export type { QuantBits, QuantizedVector } from './quantize.ts';
export {
  dequantize,
  quantizationLevels,
  quantizationStep,
  quantize,
  validateQuantized,
} from './quantize.ts';
export { sampleWithoutReplacement } from './sample.ts';
export type { SharedCoordinateOptions } from './shared-coords.ts';
export { chooseSharedCoordinates, sendSharedCoordinates, updateMomentum } from './shared-coords.ts';
export type { SparseVector } from './sparse.ts';
export { gather, sparseToDense, validateSparse } from './sparse.ts';
export type { RandomKOptions } from './topk.ts';
export { kForDensity, randomK, randomKIndices, topK, topKIndices } from './topk.ts';
export type { DecodedUpload, EncodedUpload, PrivatizeValues, UploadPlan } from './upload.ts';
export { decodeUpload, encodeUpload, maxUploadBytes, uploadCodec } from './upload.ts';
export {
  decodeSortedIndices,
  encodeSortedIndices,
  sortedIndicesLength,
  varintLength,
  writeVarint,
} from './varint.ts';
