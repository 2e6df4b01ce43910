/** Stable codes for what a decoder refuses. */
export type CodecErrorCode =
  | 'BAD_FRAME'
  | 'NON_FINITE'
  | 'PAYLOAD_TOO_LARGE'
  | 'SHAPE_MISMATCH'
  | 'INVALID_ARGUMENT';

/**
 * Thrown by every decoder and encoder in this package, and nothing else is: a decoder given
 * arbitrary bytes either returns a vector or throws a CodecError.
 */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  readonly code: CodecErrorCode;

  constructor(code: CodecErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
