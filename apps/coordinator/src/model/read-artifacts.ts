import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PollenError } from '@pollen/fl-core';
import { MODEL_LIMITS, manifestPaths } from '@pollen/ml/artifacts';

/** A model saved by tfjs, as read from disk: model.json and the weight files it names, by name. */
export interface ModelArtifactFiles {
  readonly json: unknown;
  readonly files: Map<string, Uint8Array>;
}

function readBounded(path: string, limit: number, what: string): Buffer {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new PollenError('INVALID_MODEL', `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  if (size > limit) throw new PollenError('PAYLOAD_TOO_LARGE', `${what} ${path} exceeds ${limit} bytes`);
  return readFileSync(path);
}

/**
 * Read a model.json and the weight files its manifest names, next to it, each within
 * MODEL_LIMITS. The files are checked against the manifest by `modelFromArtifacts` (the same
 * check the multipart upload gets); this only reads them.
 */
export function readModelArtifacts(modelJsonPath: string): ModelArtifactFiles {
  const text = readBounded(modelJsonPath, MODEL_LIMITS.modelJsonBytes, 'model.json').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PollenError('INVALID_MODEL', `${modelJsonPath} is not JSON: ${(err as Error).message}`);
  }
  const files = new Map<string, Uint8Array>();
  let total = 0;
  for (const name of manifestPaths(json)) {
    const bytes = readBounded(
      join(dirname(modelJsonPath), name),
      MODEL_LIMITS.weightBytes - total,
      'weight file',
    );
    total += bytes.byteLength;
    files.set(name, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  return { json, files };
}
