import {
  checkSchema,
  type ModelSpec,
  PollenError,
  WeightEntrySchema,
  type WeightEntrySpec,
} from '@pollen/fl-core';
import { bytesToBase64 } from './base64.ts';

/**
 * Bounds on a model given as tfjs artifacts (a model.json and its weight files). model.json is
 * held to the task file's bound; the weights to 2^24 float32 or int32 values (64 MiB), the
 * size the coordinator keeps per version and sends to every selected client each round; the
 * file count to what tfjs' converter writes for that (4 MB shards: 16) with room for smaller
 * shards.
 */
export const MODEL_LIMITS = {
  modelJsonBytes: 4 * 1024 * 1024,
  weightBytes: 64 * 1024 * 1024,
  weightFiles: 256,
} as const;

/** A task's model as tfjs artifacts give it: the topology and, when the manifest names weights, those. */
export type TopologyModel = Extract<ModelSpec, { topology: unknown }>;

interface Group {
  readonly paths: readonly string[];
  readonly weights: readonly WeightEntrySpec[];
}

/** Keys tfjs writes in a model.json (tfjs-core io/types.ts ModelJSON); any other is refused. */
const MODEL_JSON_KEYS = new Set([
  'modelTopology',
  'weightsManifest',
  'format',
  'generatedBy',
  'convertedBy',
  'trainingConfig',
  'signature',
  'userDefinedMetadata',
  'modelInitializer',
  'initializerSignature',
]);

const bad = (field: string, message: string): PollenError =>
  new PollenError('INVALID_MODEL', `"${field}" ${message}`);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * A manifest path as a file name: `./a.bin` is `a.bin`. Paths stay inside model.json's folder:
 * no absolute path, no `..`, no URL.
 */
function normalisePath(field: string, path: unknown): string {
  if (typeof path !== 'string' || path.length === 0 || path.length > 1024) {
    throw bad(
      field,
      `expected a file name, got ${typeof path === 'string' ? 'an empty or long string' : typeof path}`,
    );
  }
  const name = path.replace(/^(\.\/)+/, '');
  const segments = name.split('/');
  if (
    name.startsWith('/') ||
    /[\\?#:]/.test(name) ||
    segments.some((s) => s === '..' || s === '.' || s === '')
  ) {
    throw bad(field, `${JSON.stringify(path)} is not a file name next to model.json`);
  }
  return name;
}

function parseModelJson(json: unknown): { topology: Record<string, unknown>; groups: Group[] } {
  if (!isObject(json)) throw bad('model.json', 'expected a JSON object');
  for (const key of Object.keys(json)) {
    if (!MODEL_JSON_KEYS.has(key)) throw bad(`model.json.${key}`, 'is not a field of a tfjs model.json');
  }
  const topology = json.modelTopology;
  if (!isObject(topology)) throw bad('model.json.modelTopology', 'expected the Layers topology (an object)');
  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw bad('model.json.weightsManifest', 'expected an array of weight groups');
  const seen = new Set<string>();
  let files = 0;
  const groups = manifest.map((group, g): Group => {
    const at = `model.json.weightsManifest[${g}]`;
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw bad(at, 'expected { paths: [...], weights: [...] }');
    }
    for (const key of Object.keys(group)) {
      if (key !== 'paths' && key !== 'weights') throw bad(`${at}.${key}`, 'is not a field of a weight group');
    }
    files += group.paths.length;
    if (files > MODEL_LIMITS.weightFiles) {
      throw bad('model.json.weightsManifest', `names more than ${MODEL_LIMITS.weightFiles} weight files`);
    }
    const paths = group.paths.map((p, i) => {
      const name = normalisePath(`${at}.paths[${i}]`, p);
      if (seen.has(name)) throw bad(`${at}.paths[${i}]`, `names "${name}" a second time`);
      seen.add(name);
      return name;
    });
    group.weights.forEach((w, i) => {
      // float32 and int32 only: quantized or string weights are refused by their extra fields or dtype.
      checkSchema(WeightEntrySchema, w, 'INVALID_MODEL', `${at}.weights[${i}]`);
    });
    return { paths, weights: group.weights as WeightEntrySpec[] };
  });
  return { topology, groups };
}

/** The weight files a model.json's manifest names, as file names next to it, in manifest order. */
export function manifestPaths(modelJson: unknown): string[] {
  return parseModelJson(modelJson).groups.flatMap((g) => g.paths);
}

/** Bytes a weight group takes: 4 per float32 or int32 value. */
function groupBytes(at: string, weights: readonly WeightEntrySpec[], total: number): number {
  let bytes = 0;
  weights.forEach((w, i) => {
    let values = 1;
    for (const d of w.shape) values *= d;
    bytes += values * 4;
    if (total + bytes > MODEL_LIMITS.weightBytes) {
      throw new PollenError(
        'PAYLOAD_TOO_LARGE',
        `"${at}.weights[${i}]" takes the model past ${MODEL_LIMITS.weightBytes} bytes of weights`,
      );
    }
  });
  return bytes;
}

/**
 * Check a model saved by tfjs (model.json and the weight files by their manifest names) and
 * return it as a task's model: `{ topology, weights: { specs, data } }`, the weight entries of
 * every group in order and the files' bytes concatenated the same way, as tfjs' own loader
 * reads them. Every file the manifest names must be given exactly once and no other; each
 * group's files must hold exactly 4 bytes per value of its entries' shapes. Failures are
 * INVALID_MODEL (PAYLOAD_TOO_LARGE past {@link MODEL_LIMITS}) naming the field or the file.
 */
export function modelFromArtifacts(
  modelJson: unknown,
  files: ReadonlyMap<string, Uint8Array>,
): TopologyModel {
  const { topology, groups } = parseModelJson(modelJson);
  const named = new Set(groups.flatMap((g) => g.paths));
  for (const name of files.keys()) {
    if (!named.has(name))
      throw new PollenError('INVALID_MODEL', `weight file "${name}" is not named by model.json`);
  }
  const specs: WeightEntrySpec[] = [];
  const parts: Uint8Array[] = [];
  let total = 0;
  groups.forEach((group, g) => {
    const at = `model.json.weightsManifest[${g}]`;
    const need = groupBytes(at, group.weights, total);
    let have = 0;
    group.paths.forEach((name, i) => {
      const bytes = files.get(name);
      if (!bytes) throw bad(`${at}.paths[${i}]`, `names weight file "${name}", which is missing`);
      have += bytes.byteLength;
      parts.push(bytes);
    });
    if (have !== need) {
      throw new PollenError(
        'INVALID_MODEL',
        `weight files ${group.paths.map((p) => `"${p}"`).join(', ')} hold ${have} bytes; the weights of "${at}" (${group.weights.length} entries) take ${need}`,
      );
    }
    total += need;
    specs.push(...group.weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: w.dtype })));
  });
  if (specs.length === 0) return { topology };
  const data = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.byteLength;
  }
  return { topology, weights: { specs, data: bytesToBase64(data) } };
}

/**
 * A task's model without its initial weights: once the coordinator has made them version 0,
 * the spec it stores, serves and sends keeps only the topology (every client loads the round's
 * weights anyway), so a large pretrained model is not carried in every spec.
 */
export function withoutInitialWeights(model: ModelSpec): ModelSpec {
  if (!('topology' in model) || !model.weights) return model;
  return { topology: model.topology };
}
