import { checkSchema, PollenError, TaskOverridesSchema } from '@pollen/fl-core';
import { MODEL_LIMITS, modelFromArtifacts } from '@pollen/ml/artifacts';
import type { FastifyRequest } from 'fastify';

/** The JSON body limit of the coordinator (app.ts), which the `task` part is held to as well. */
export const TASK_PART_BYTES = 1024 * 1024;

/** Parts of a task upload at most: `task`, `model.json` and the weight files. */
const MAX_PARTS = MODEL_LIMITS.weightFiles + 2;

/** Limits handed to the multipart parser (busboy) for one upload. */
export const UPLOAD_LIMITS = {
  fieldSize: TASK_PART_BYTES,
  fileSize: MODEL_LIMITS.weightBytes,
  files: MAX_PARTS,
  fields: 2,
  parts: MAX_PARTS,
} as const;

/** A task description as the JSON body and the `task` part take it: checked against the schema. */
export function checkTaskOverrides(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PollenError('INVALID_TASK', '"task" expected a JSON object');
  }
  const model = (value as { model?: unknown }).model;
  if (model !== null && typeof model === 'object' && 'path' in model) {
    throw new PollenError(
      'INVALID_TASK',
      '"model.path" is for task files: the HTTP API takes the model itself (multipart model.json and weight files, or an inline topology)',
    );
  }
  checkSchema(TaskOverridesSchema, value, 'INVALID_TASK');
  return value as Record<string, unknown>;
}

/** The multipart parser's own errors as Pollen's codes. */
function fromParser(err: unknown): PollenError {
  if (err instanceof PollenError) return err;
  const code = (err as { code?: string }).code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') {
    return new PollenError('PAYLOAD_TOO_LARGE', `a weight file exceeds ${MODEL_LIMITS.weightBytes} bytes`);
  }
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT') {
    return new PollenError(
      'INVALID_MODEL',
      `an upload has at most ${MAX_PARTS} parts: "task", "model.json" and up to ${MODEL_LIMITS.weightFiles} weight files`,
    );
  }
  if (code === 'FST_INVALID_JSON_FIELD_ERROR') return new PollenError('INVALID_TASK', '"task" is not JSON');
  return new PollenError('INVALID_ARGUMENT', `malformed multipart body: ${(err as Error).message}`);
}

function parseJson(part: string, bytes: Buffer | string, code: 'INVALID_TASK' | 'INVALID_MODEL'): unknown {
  try {
    return JSON.parse(bytes.toString());
  } catch (err) {
    throw new PollenError(code, `"${part}" part is not JSON: ${(err as Error).message}`);
  }
}

/**
 * Read a multipart task upload: a `task` part (JSON, a file or a field), a `model.json` part
 * (tfjs artifacts) and one part per weight file the manifest names, by the manifest's file
 * name (`./` dropped), as `tf.io.http` sends them. The weights are checked against the
 * manifest (@pollen/ml/artifacts) and become the task's `model`. Returns the task description.
 */
export async function readTaskUpload(req: FastifyRequest): Promise<Record<string, unknown>> {
  let task: unknown;
  let modelJson: unknown;
  const files = new Map<string, Uint8Array>();
  let weightBytes = 0;
  try {
    for await (const part of req.parts({ limits: UPLOAD_LIMITS })) {
      const name = part.fieldname.replace(/^(\.\/)+/, '');
      if (name === 'task') {
        if (task !== undefined) throw new PollenError('INVALID_TASK', '"task" part appears twice');
        if (part.type === 'field') {
          if (part.valueTruncated) {
            throw new PollenError('PAYLOAD_TOO_LARGE', `"task" part exceeds ${TASK_PART_BYTES} bytes`);
          }
          task = typeof part.value === 'string' ? parseJson('task', part.value, 'INVALID_TASK') : part.value;
        } else {
          const bytes = await part.toBuffer();
          if (bytes.byteLength > TASK_PART_BYTES) {
            throw new PollenError('PAYLOAD_TOO_LARGE', `"task" part exceeds ${TASK_PART_BYTES} bytes`);
          }
          task = parseJson('task', bytes, 'INVALID_TASK');
        }
        continue;
      }
      if (part.type === 'field') {
        throw new PollenError('INVALID_MODEL', `part "${name}" must be a file: only "task" may be a field`);
      }
      const bytes = await part.toBuffer();
      if (name === 'model.json') {
        if (modelJson !== undefined)
          throw new PollenError('INVALID_MODEL', '"model.json" part appears twice');
        if (bytes.byteLength > MODEL_LIMITS.modelJsonBytes) {
          throw new PollenError(
            'PAYLOAD_TOO_LARGE',
            `"model.json" exceeds ${MODEL_LIMITS.modelJsonBytes} bytes`,
          );
        }
        modelJson = parseJson('model.json', bytes, 'INVALID_MODEL');
        continue;
      }
      if (files.has(name)) throw new PollenError('INVALID_MODEL', `weight file "${name}" appears twice`);
      weightBytes += bytes.byteLength;
      if (weightBytes > MODEL_LIMITS.weightBytes) {
        throw new PollenError(
          'PAYLOAD_TOO_LARGE',
          `weight files exceed ${MODEL_LIMITS.weightBytes} bytes at "${name}"`,
        );
      }
      files.set(name, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }
  } catch (err) {
    throw fromParser(err);
  }
  if (task === undefined) throw new PollenError('INVALID_TASK', 'the "task" part is missing');
  const body = checkTaskOverrides(task);
  if (modelJson === undefined) {
    const [stray] = files.keys();
    if (stray !== undefined) {
      throw new PollenError('INVALID_MODEL', `weight file "${stray}" came without a "model.json" part`);
    }
    return body;
  }
  if (body.model !== undefined) {
    throw new PollenError('INVALID_TASK', '"model" is given twice: in the "task" part and as "model.json"');
  }
  return { ...body, model: modelFromArtifacts(modelJson, files) };
}
