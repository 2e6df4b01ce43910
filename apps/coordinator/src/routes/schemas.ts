import { TASK_ID_PATTERN, TaskOverridesSchema } from '@pollen/fl-core';
import { CLIENT_ID_PATTERN } from '../rounds/messages.ts';

/**
 * JSON schemas of the HTTP API: Fastify validates requests with them and serialises responses
 * with them, and @fastify/swagger turns them into the OpenAPI document at /api/openapi.json.
 * Objects whose every field is not listed here keep the others (`additionalProperties: true`):
 * their full shape is typed once, in @pollen/fl-core, not repeated here.
 */

/** Security requirement of an operator route: `Authorization: Bearer <operator token>`. */
export const OPERATOR_SECURITY = [{ operatorToken: [] }];

const error = {
  type: 'object',
  required: ['ok', 'code', 'message'],
  properties: {
    ok: { type: 'boolean', enum: [false] },
    code: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

/** The error answers every route may give, as `{ ok: false, code, message }`. */
export const ERRORS = {
  400: { description: 'Invalid input', ...error },
  404: { description: 'No such task, version or route', ...error },
  409: { description: 'The task cannot do that now', ...error },
} as const;

/** The error answers of an operator route, 401 included. */
export const OPERATOR_ERRORS = {
  ...ERRORS,
  401: { description: 'Missing or wrong operator token', ...error },
} as const;

const pattern = (re: RegExp): string => re.source;

export const TASK_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: pattern(TASK_ID_PATTERN) } },
} as const;

export const SHARD_PARAMS = {
  type: 'object',
  required: ['id', 'clientId'],
  properties: {
    id: { type: 'string', pattern: pattern(TASK_ID_PATTERN) },
    clientId: { type: 'string', pattern: pattern(CLIENT_ID_PATTERN) },
  },
} as const;

export const VERSION_QUERY = {
  type: 'object',
  properties: { version: { type: 'integer', minimum: 0, maximum: 0xffffffff } },
} as const;

/** A version's model export: the version, and for a LoRA task the form (docs/operating.md). */
export const MODEL_QUERY = {
  type: 'object',
  properties: {
    ...VERSION_QUERY.properties,
    form: {
      type: 'string',
      enum: ['merged', 'adapters'],
      default: 'merged',
      description:
        "merged: a plain tfjs model (LoRA folded into its layers); adapters: a LoRA task as it trains, adapters beside the frozen base (needs Pollen's layers to load)",
    },
  },
} as const;

export const ROUNDS_QUERY = {
  type: 'object',
  properties: {
    after: { type: 'integer', minimum: 0, maximum: 0xffffffff, description: 'Rounds with a larger id only' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 1000 },
  },
} as const;

const nullableInt = { type: ['integer', 'null'] } as const;
const nullableNumber = { type: ['number', 'null'] } as const;

export const TASK_SUMMARY = {
  type: 'object',
  additionalProperties: true,
  required: ['id', 'name', 'status', 'currentVersion'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    owner: { type: 'string' },
    status: { type: 'string', enum: ['running', 'paused', 'stopped', 'completed', 'budget-exhausted'] },
    createdAt: { type: 'integer' },
    currentVersion: { type: 'integer' },
    population: { type: 'object', additionalProperties: true },
    round: { ...nullableInt, description: 'The newest round collecting updates, if any' },
    rounds: { type: 'array', items: { type: 'integer' }, description: 'Every round collecting updates' },
  },
} as const;

export const TASK_DETAIL = {
  ...TASK_SUMMARY,
  properties: {
    ...TASK_SUMMARY.properties,
    spec: { type: 'object', additionalProperties: true, description: "The task's validated spec" },
    weightSpec: { type: 'array', items: { type: 'object', additionalProperties: true } },
    modelWeightSpec: {
      type: 'array',
      items: { type: 'object', additionalProperties: true },
      description:
        "A fine-tuning task's whole model (what GET .../global serves); `weightSpec` is its rounds' trainable part",
    },
  },
} as const;

/** Named held-out metrics (`loss` and the task's metrics), or null where none were computed. */
const METRICS = {
  type: ['object', 'null'],
  additionalProperties: { type: 'number' },
  description:
    "Held-out `loss` and the task's declared metrics by name; null until the evaluation that runs after the commit attaches them, when it was skipped for a newer version (not evaluated), or without held-out data",
} as const;

export const ROUND_RECORD = {
  type: 'object',
  additionalProperties: true,
  required: ['taskId', 'roundId', 'status', 'baseVersion'],
  properties: {
    taskId: { type: 'string' },
    roundId: { type: 'integer' },
    status: { type: 'string', enum: ['open', 'committed', 'abandoned'] },
    mode: { type: 'string', enum: ['sync', 'buffered'] },
    baseVersion: { type: 'integer' },
    newVersion: nullableInt,
    selected: { type: 'integer' },
    reported: { type: 'integer' },
    dropped: { type: 'integer' },
    startedAt: { type: 'integer' },
    endedAt: nullableInt,
    metrics: METRICS,
    aggregationMs: { type: 'number' },
    evaluationMs: {
      type: 'number',
      description: 'Held-out evaluation time; absent while the version is not evaluated (pending or skipped)',
    },
    staleness: { type: 'object', additionalProperties: true },
    checksum: { type: 'string' },
  },
} as const;

export const EVALUATIONS_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: { latest: { type: 'integer', minimum: 1, maximum: 1000 } },
} as const;

export const EVALUATION_RECORD = {
  type: 'object',
  additionalProperties: true,
  required: ['taskId', 'evaluationId', 'version', 'status', 'federatedEvaluation'],
  properties: {
    taskId: { type: 'string' },
    evaluationId: { type: 'integer' },
    version: { type: 'integer' },
    status: { type: 'string', enum: ['open', 'complete', 'insufficient', 'abandoned'] },
    selected: { type: 'integer' },
    reported: { type: 'integer' },
    dropped: { type: 'integer' },
    rejected: { type: 'integer' },
    startedAt: { type: 'integer' },
    endedAt: nullableInt,
    bytesDown: { type: 'integer' },
    bytesUp: { type: 'integer' },
    federatedEvaluation: {
      description:
        'Example-weighted means and the spread across the clients that reported; null before any did',
      anyOf: [{ type: 'object', additionalProperties: true }, { type: 'null' }],
    },
    reason: { anyOf: [{ type: 'string' }, { type: 'null' }] },
  },
} as const;

export const VERSION = {
  type: 'object',
  additionalProperties: true,
  properties: {
    taskId: { type: 'string' },
    version: { type: 'integer' },
    roundId: nullableInt,
    createdAt: { type: 'integer' },
    metrics: METRICS,
    pruned: {
      type: 'boolean',
      description: 'The retention policy dropped its weights; its round record and checksum remain',
    },
  },
} as const;

export const PRIVACY = {
  type: 'object',
  additionalProperties: true,
  properties: {
    taskId: { type: 'string' },
    status: { type: 'string' },
    mode: { type: 'string', enum: ['off', 'distributed', 'local'] },
    epsilon: nullableNumber,
    epsilonBudget: nullableNumber,
    remaining: nullableNumber,
    delta: nullableNumber,
    rounds: { type: 'integer' },
    clipNorm: nullableNumber,
    exhausted: { type: ['string', 'null'] },
    entries: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
} as const;

export const BINARY = { type: 'string', format: 'binary' } as const;

/**
 * The body of POST /api/tasks, by media type. JSON: any task fields, declared once by
 * @pollen/fl-core's TaskOverridesSchema (and checked against it without coercion by the
 * route). Multipart: the same JSON as a `task` part, a tfjs `model.json` and its weight files.
 */
export const TASK_BODY = {
  content: {
    'application/json': { schema: TaskOverridesSchema },
    'multipart/form-data': {
      schema: {
        type: 'object',
        required: ['task'],
        properties: {
          task: {
            type: 'string',
            description: 'The task JSON (as application/json takes it), without `model`',
          },
          'model.json': {
            type: 'string',
            format: 'binary',
            description: 'A tfjs model.json: modelTopology and weightsManifest',
          },
        },
        additionalProperties: {
          type: 'string',
          format: 'binary',
          description: "A weight file, named as in the manifest's paths (without ./)",
        },
      },
    },
  },
} as const;

/** A held-out data file: CSV with the task's `columns`, or JSON lines. */
export const HELD_OUT_BODY = {
  content: {
    'text/csv': { schema: { type: 'string', description: "CSV, a header row naming the spec's columns" } },
    'application/x-ndjson': { schema: { type: 'string', description: 'JSON lines: {"x": [...], "y": ...}' } },
  },
} as const;

/** A task's held-out data: uploaded, built-in, or none. */
export const HELD_OUT = {
  type: 'object',
  required: ['taskId', 'source'],
  properties: {
    taskId: { type: 'string' },
    source: {
      type: ['string', 'null'],
      enum: ['uploaded', 'builtin', null],
      description:
        'Where versions are evaluated: an upload, the built-in data, or nowhere (null: no held-out data)',
    },
    count: nullableInt,
    bytes: { ...nullableInt, description: "Bytes of the examples in the task's dtypes" },
    digest: { type: ['string', 'null'], description: 'SHA-256 of the stored examples' },
    uploadedAt: nullableInt,
    baselines: {
      type: 'array',
      description:
        'Built-in data only: baselines scored on the same held-out set, keyed as the metrics (unigram and bigram for next-char text, the majority class for labelled messages)',
      items: {
        type: 'object',
        required: ['name', 'metrics'],
        properties: {
          name: { type: 'string' },
          metrics: { type: 'object', additionalProperties: { type: 'number' } },
        },
      },
    },
  },
} as const;

/** What an operator may change of a running task. */
export const TASK_PATCH = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: {},
    description: {},
    owner: {},
    columns: { type: 'object', additionalProperties: true },
    training: { type: 'object', additionalProperties: true },
    rounds: { type: 'object', additionalProperties: true },
    maxUpdateNorm: {},
  },
} as const;

export const TASK_STATUS = {
  type: 'object',
  required: ['id', 'status', 'currentVersion'],
  properties: { id: { type: 'string' }, status: { type: 'string' }, currentVersion: { type: 'integer' } },
} as const;
