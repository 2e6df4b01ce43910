import { type Static, type TInteger, Type } from '@sinclair/typebox';
import { EligibilitySchema } from './eligibility.ts';
import { EvaluationSchema } from './evaluation.ts';
import { LOCAL_WORK_FIELDS } from './local-work.ts';
import { PresentationSchema } from './presentation.ts';
import { TrainableSchema } from './trainable.ts';

/**
 * The task's own fields, declared once with TypeBox: each declaration is a JSON Schema (for
 * Fastify's validation and the OpenAPI document) and, through `Static`, the TypeScript type.
 * Cross-field rules (a loss that fits the target, the strategy with secure aggregation, ...)
 * cannot be said in JSON Schema with a good message: they live in fit.ts and task.ts.
 */

const Int = (minimum: number, maximum: number, description?: string): TInteger =>
  Type.Integer({ minimum, maximum, ...(description ? { description } : {}) });

/** Up to 4 dimensions, each 1..65,536. */
export const ShapeSchema = Type.Array(Type.Integer({ minimum: 1, maximum: 65_536 }), {
  minItems: 1,
  maxItems: 4,
  description: 'Tensor shape of one example, without the batch dimension',
});

export const DTYPES = ['float32', 'int32', 'uint8'] as const;
export type InputDtype = (typeof DTYPES)[number];

/** What one example's features look like on the device, and how they become model input. */
export const InputSchema = Type.Object(
  {
    shape: ShapeSchema,
    dtype: Type.Union(
      DTYPES.map((d) => Type.Literal(d)),
      { description: 'How examples are stored: uint8 (0..255), int32 (token ids) or float32' },
    ),
    scale: Type.Optional(
      Type.Number({ description: 'Model input = stored value * scale + offset (default 1)' }),
    ),
    offset: Type.Optional(Type.Number({ description: 'Added after scaling (default 0)' })),
  },
  { additionalProperties: false },
);
export type InputSpec = Static<typeof InputSchema>;

/** What the model predicts. */
export const TargetSchema = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('class'),
      numClasses: Int(2, 65_536, 'Labels are integers 0..numClasses-1'),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('multilabel'),
      numLabels: Int(1, 65_536, 'Labels are 0/1 vectors of this length'),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('regression'), shape: ShapeSchema }, { additionalProperties: false }),
  Type.Object(
    {
      kind: Type.Literal('sequence'),
      vocabSize: Int(2, 65_536, 'Next-token prediction over token ids 0..vocabSize-1'),
    },
    { additionalProperties: false },
  ),
]);
export type TargetSpec = Static<typeof TargetSchema>;
export type TargetKind = TargetSpec['kind'];
export const TARGET_KINDS: readonly TargetKind[] = ['class', 'multilabel', 'regression', 'sequence'];

export const LOSSES = [
  'sparseCategoricalCrossentropy',
  'categoricalCrossentropy',
  'binaryCrossentropy',
  'meanSquaredError',
  'meanAbsoluteError',
  'huber',
] as const;
export type LossName = (typeof LOSSES)[number];
export const LossSchema = Type.Union(
  LOSSES.map((l) => Type.Literal(l)),
  { description: 'Training loss; defaults by target kind' },
);

export const SIMPLE_METRICS = ['accuracy', 'mse', 'mae', 'rmse', 'perplexity', 'auc'] as const;
export type SimpleMetric = (typeof SIMPLE_METRICS)[number];
export const MetricSchema = Type.Union([
  ...SIMPLE_METRICS.map((m) => Type.Literal(m)),
  Type.Object({ name: Type.Literal('topKAccuracy'), k: Int(1, 1000) }, { additionalProperties: false }),
]);
export type MetricSpec = SimpleMetric | { readonly name: 'topKAccuracy'; readonly k: number };
export const MetricsSchema = Type.Array(MetricSchema, {
  maxItems: 16,
  description: 'Metrics reported besides the loss; defaults by target kind',
});

const ActivationSchema = Type.Union([Type.Literal('relu'), Type.Literal('tanh'), Type.Literal('sigmoid')]);

/** A tfjs weight entry of a weights manifest (model.json's `weightsManifest[].weights[]`). */
export const WeightEntrySchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 500 }),
    shape: Type.Array(Type.Integer({ minimum: 0, maximum: 1 << 30 }), { maxItems: 8 }),
    dtype: Type.Union([Type.Literal('float32'), Type.Literal('int32')]),
  },
  { additionalProperties: false },
);
export type WeightEntrySpec = Static<typeof WeightEntrySchema>;

/** The model: a built-in shorthand, or a tfjs Layers topology with optional initial weights. */
export const ModelSchema = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('mlp'),
      hidden: Type.Array(Int(1, 4096), { minItems: 1, maxItems: 8 }),
      activation: Type.Optional(ActivationSchema),
    },
    { additionalProperties: false, description: 'Dense layers on the flattened input' },
  ),
  Type.Object(
    {
      kind: Type.Literal('cnn'),
      filters: Type.Optional(Type.Array(Int(1, 512), { minItems: 1, maxItems: 4 })),
      kernelSize: Type.Optional(Int(1, 11)),
      dense: Type.Optional(Type.Array(Int(1, 4096), { maxItems: 4 })),
    },
    {
      additionalProperties: false,
      description: 'Conv2D (+ 2x2 max-pool) per filter count, then dense layers; input [h, w, c]',
    },
  ),
  Type.Object(
    {
      topology: Type.Record(Type.String(), Type.Unknown(), {
        description: "A tfjs Layers topology: model.json's modelTopology",
      }),
      weights: Type.Optional(
        Type.Object(
          {
            specs: Type.Array(WeightEntrySchema, { maxItems: 10_000 }),
            data: Type.String({ description: 'The weight files concatenated, base64' }),
          },
          { additionalProperties: false, description: 'Initial weights (tfjs weightSpecs + weightData)' },
        ),
      ),
    },
    { additionalProperties: false },
  ),
]);
export type ModelSpec = Static<typeof ModelSchema>;
export type ModelShorthand = Extract<ModelSpec, { kind: string }>;

export const PartitionSchema = Type.Union([
  Type.Object({ kind: Type.Literal('iid') }, { additionalProperties: false }),
  Type.Object(
    { kind: Type.Literal('dirichlet'), alpha: Type.Number({ minimum: 1e-3, maximum: 1e3 }) },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('shards'), shardsPerClient: Int(1, 10) }, { additionalProperties: false }),
  Type.Object(
    { kind: Type.Literal('natural') },
    {
      additionalProperties: false,
      description: "By the data's own groups (a Brown document, a SpamAssassin folder); not for MNIST",
    },
  ),
]);
/** How built-in demo data is split across clients. */
export type PartitionSpec = Static<typeof PartitionSchema>;

/** The built-in data sets (docs/tasks.md): MNIST digits, Brown corpus text, SpamAssassin messages. */
export const BUILTIN_DATA = ['mnist', 'brown', 'spam-assassin'] as const;
export type BuiltinData = (typeof BUILTIN_DATA)[number];

/**
 * Which part of a built-in data set a task uses: all of it, or one side of its split between
 * pretraining a base model centrally and fine-tuning it federated (Brown: by genre), so that
 * what the clients hold was never pretrained on.
 */
export const DATA_PARTS = ['all', 'pretrain', 'fine-tune'] as const;
export type DataPart = (typeof DATA_PARTS)[number];

/** Built-in demo data: each client id maps to one shard of it. */
export const DataSchema = Type.Object(
  {
    builtin: Type.Union(
      BUILTIN_DATA.map((b) => Type.Literal(b)),
      { description: 'mnist (digits), brown (next-char text), spam-assassin (messages)' },
    ),
    part: Type.Optional(
      Type.Union(
        DATA_PARTS.map((p) => Type.Literal(p)),
        { description: 'all (default), or the pretraining or fine-tuning genres of brown' },
      ),
    ),
    partition: PartitionSchema,
    numShards: Int(1, 100_000),
    seed: Type.Optional(Int(0, 0xffffffff)),
  },
  { additionalProperties: false },
);
export type DataSpec = Static<typeof DataSchema> & { readonly seed: number };

const ColumnName = Type.String({ minLength: 1, maxLength: 200 });

/**
 * Which columns of a CSV data file (held-out upload, simulations) make an example: the
 * features in the order of the model's flat input, the target column(s), and the column
 * naming who a row came from. Independent of `data` (built-in demo data).
 */
export const ColumnsSchema = Type.Object(
  {
    features: Type.Optional(
      Type.Array(ColumnName, {
        minItems: 1,
        maxItems: 65_536,
        description: 'Feature columns, in input order; default: every column but the target and group',
      }),
    ),
    target: Type.Optional(
      Type.Union([ColumnName, Type.Array(ColumnName, { minItems: 1, maxItems: 65_536 })], {
        description: 'The target column, or one column per label value; default "y"',
      }),
    ),
    group: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'A user or author id column' }),
    ),
  },
  { additionalProperties: false, description: "CSV columns of the task's data files (docs/tasks.md)" },
);
export type ColumnsSpec = Static<typeof ColumnsSchema>;

/**
 * A model saved by tfjs as files, for task files only: `path` names its model.json, relative
 * to the task file; the weight files its manifest names are read next to it. The HTTP API
 * takes no server paths: it takes the files themselves (multipart).
 */
export const ModelPathSchema = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'model.json, relative to the task file',
    }),
  },
  { additionalProperties: false },
);

export const TrainingSchema = Type.Object(
  {
    epochs: Int(1, 100),
    batchSize: Int(1, 4096),
    learningRate: Type.Number({ minimum: 1e-7, maximum: 10 }),
    optimizer: Type.Optional(Type.Union([Type.Literal('sgd'), Type.Literal('adam')])),
    ...LOCAL_WORK_FIELDS,
    trainable: Type.Optional(TrainableSchema),
  },
  { additionalProperties: false },
);

/**
 * A task description as an operator sends it (POST /api/tasks, a task file): the fields with
 * defaults are optional. Rounds, strategy, privacy, compression and secure aggregation are
 * open objects here: their hand-written validators check them field by field with the
 * cross-field rules between them.
 */
export const TaskInputSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    owner: Type.Optional(Type.String({ maxLength: 200 })),
    model: ModelSchema,
    input: InputSchema,
    target: TargetSchema,
    loss: Type.Optional(LossSchema),
    metrics: Type.Optional(MetricsSchema),
    data: Type.Optional(DataSchema),
    columns: Type.Optional(ColumnsSchema),
    presentation: Type.Optional(PresentationSchema),
    training: TrainingSchema,
    rounds: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'cohortSize, minReports, minClients, samplingRate, overSelection, deadlineMs, maxRounds, mode, ...',
    }),
    codec: Type.Optional(Type.Union([Type.Literal('f32'), Type.Literal('f16')])),
    maxUpdateNorm: Type.Optional(Type.Number({ minimum: 1e-6, maximum: 1e9 })),
    strategy: Type.Optional(Type.Unknown({ description: 'StrategyConfig (strategies/config.ts)' })),
    privacy: Type.Optional(Type.Unknown({ description: 'PrivacySettings (privacy/settings.ts)' })),
    compression: Type.Optional(Type.Unknown({ description: 'CompressionSettings (compression.ts)' })),
    secureAggregation: Type.Optional(Type.Unknown({ description: 'true or SecureAggregationSettings' })),
    admission: Type.Optional(
      Type.Unknown({ description: 'AdmissionSettings: join tokens, per-address limits' }),
    ),
    eligibility: Type.Optional(EligibilitySchema),
    evaluation: Type.Optional(EvaluationSchema),
  },
  { additionalProperties: false },
);
export type TaskInput = Static<typeof TaskInputSchema>;

/** Fields of task specs written before tasks described their model (legacy.ts reads them). */
const LEGACY_FIELDS = {
  dataset: Type.Optional(Type.Unknown({ description: 'Deprecated: data: { builtin, ... }' })),
  modelTopology: Type.Optional(Type.Unknown({ description: 'Deprecated: model: { topology }' })),
  inputShape: Type.Optional(Type.Unknown({ description: 'Deprecated: input.shape' })),
  numClasses: Type.Optional(Type.Unknown({ description: 'Deprecated: target.numClasses' })),
};

/**
 * What POST /api/tasks takes as JSON (and a task file holds, `model.path` aside): any fields of
 * a task, each checked against {@link TaskInputSchema}; the others come from the default task.
 */
export const TaskOverridesSchema = Type.Partial(
  Type.Object({ ...TaskInputSchema.properties, ...LEGACY_FIELDS }, { additionalProperties: false }),
  {
    additionalProperties: false,
    description:
      'A task description (docs/tasks.md): the fields given replace those of the default MNIST task, then the whole is validated',
  },
);
