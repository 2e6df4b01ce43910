/**
 * Why the coordinator's answer to GET /api/tasks/:id/global was not used, stable across
 * releases: BAD_VERSION (the `x-pollen-version` header is not a version number), BAD_WEIGHTS
 * (the body is not the float32 weights of the task's model).
 */
export type GlobalModelErrorCode = 'BAD_VERSION' | 'BAD_WEIGHTS';

export class GlobalModelError extends Error {
  override readonly name = 'GlobalModelError';
  constructor(
    readonly code: GlobalModelErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Check the global model the coordinator served before the worker loads it: its version, and
 * weights of exactly `weights` float32 values (the task's weight spec). Returns the version.
 */
export function checkGlobalModel(versionHeader: string | null, bytes: number, weights: number): number {
  const version =
    versionHeader !== null && /^\d{1,10}$/.test(versionHeader) ? Number(versionHeader) : Number.NaN;
  if (!Number.isSafeInteger(version) || version > 0xffffffff) {
    throw new GlobalModelError(
      'BAD_VERSION',
      `"x-pollen-version" expected a version number, got ${JSON.stringify(versionHeader)}`,
    );
  }
  if (bytes !== 4 * weights) {
    throw new GlobalModelError(
      'BAD_WEIGHTS',
      `the model has ${weights} weights (${4 * weights} bytes of float32), the coordinator sent ${bytes} bytes`,
    );
  }
  return version;
}
