export type { CodecErrorCode } from './errors.ts';
export { CodecError } from './errors.ts';
export type { ExampleBatch } from './examples.ts';
export { decodeExamples, encodeExamples } from './examples.ts';
export { fromHalfBits, HALF_MAX, toHalfBits } from './float16.ts';
export type { DecodedFrame, DecodeLimits, DenseCodec, FrameMeta } from './frame.ts';
export { CODECS, decodeDense, encodeDense, FRAME_HEADER_BYTES, FRAME_VERSION } from './frame.ts';
