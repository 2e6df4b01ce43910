import { expectInt, expectString, PollenError, TASK_ID_PATTERN } from '@pollen/fl-core';
import {
  type ExportForm,
  encodeExampleSet,
  modelTopology,
  type SavedModel,
  withoutInitialWeights,
} from '@pollen/ml';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { builtinShard } from '../data/builtin.ts';
import type { Engine } from '../rounds/engine.ts';
import { CLIENT_ID_PATTERN } from '../rounds/messages.ts';
import { currentClipNorm, privacySummary } from '../rounds/privacy.ts';
import type { StoredTask } from '../store/types.ts';
import {
  BINARY,
  ERRORS,
  EVALUATION_RECORD,
  EVALUATIONS_QUERY,
  MODEL_QUERY,
  OPERATOR_ERRORS,
  OPERATOR_SECURITY,
  PRIVACY,
  ROUND_RECORD,
  ROUNDS_QUERY,
  SHARD_PARAMS,
  TASK_DETAIL,
  TASK_PARAMS,
  TASK_SUMMARY,
  VERSION,
} from './schemas.ts';

function taskId(params: unknown): string {
  return expectString('id', (params as { id?: unknown }).id, 63, TASK_ID_PATTERN, 'NOT_FOUND');
}

/** A query integer: Fastify's schema has coerced and bounded it; the task-dependent bounds are checked here. */
function optionalInt(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,10}$/.test(value)
        ? Number(value)
        : Number.NaN;
  return expectInt(name, n, min, max);
}

function summary(engine: Engine, task: StoredTask): Record<string, unknown> {
  const { spec } = task;
  return {
    id: spec.id,
    name: spec.name,
    description: spec.description,
    owner: spec.owner,
    status: task.status,
    createdAt: task.createdAt,
    currentVersion: task.currentVersion,
    population: engine.population.counts(spec.id),
    round: engine.runner(spec.id)?.openRoundIds().at(-1) ?? null,
    rounds: engine.runner(spec.id)?.openRoundIds() ?? [],
  };
}

/** Read-only task API: tasks and demo shards for everyone; rounds, versions and the model for operators. */
export async function apiRoutes(
  app: FastifyInstance,
  opts: { engine: Engine; guard: (req: FastifyRequest) => Promise<void> },
): Promise<void> {
  const { engine, guard } = opts;
  // Contributors need a task's spec and their shard; rounds, versions and the model are the operator's.
  const operator = (
    summary: string,
    schema: Record<string, unknown>,
    response: Record<string, unknown>,
  ): Record<string, unknown> => ({
    onRequest: guard,
    schema: {
      summary,
      security: OPERATOR_SECURITY,
      params: TASK_PARAMS,
      ...schema,
      response: { 200: response, ...OPERATOR_ERRORS },
    },
  });
  const { store } = engine;
  const getTask = async (params: unknown): Promise<StoredTask> => {
    const id = taskId(params);
    const task = await store.getTask(id);
    if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${id}"`);
    return task;
  };
  const fineTuned = (task: StoredTask, version: number, form?: ExportForm): Promise<SavedModel | null> =>
    engine.fineTunedModel(task, version, form);
  const formOf = (query: unknown): ExportForm => (query as { form?: ExportForm }).form ?? 'merged';
  const versionOf = (task: StoredTask, query: unknown): number =>
    optionalInt('version', (query as { version?: unknown }).version, 0, task.currentVersion) ??
    task.currentVersion;

  app.get(
    '/api/tasks',
    {
      schema: { summary: 'Tasks, public summary', response: { 200: { type: 'array', items: TASK_SUMMARY } } },
    },
    async () => (await store.listTasks()).map((task) => summary(engine, task)),
  );

  app.get(
    '/api/tasks/:id',
    {
      schema: {
        summary: 'One task with its spec',
        params: TASK_PARAMS,
        response: { 200: TASK_DETAIL, ...ERRORS },
      },
    },
    async (req) => {
      const task = await getTask(req.params);
      // A fine-tuning task keeps its initial weights (its frozen base, served at .../base): not here.
      const spec = { ...task.spec, model: withoutInitialWeights(task.spec.model) };
      // Its whole model's layout, what GET .../global serves (the rounds' is `weightSpec`).
      const tuned = await fineTuned(task, task.currentVersion);
      const modelWeightSpec = tuned?.weightSpecs.map((w) => ({ name: w.name, shape: w.shape }));
      return {
        ...summary(engine, task),
        spec,
        weightSpec: task.weightSpec,
        ...(modelWeightSpec ? { modelWeightSpec } : {}),
      };
    },
  );

  app.get(
    '/api/tasks/:id/rounds',
    operator(
      'Round records, oldest first',
      { querystring: ROUNDS_QUERY },
      { type: 'array', items: ROUND_RECORD },
    ),
    async (req) => {
      const task = await getTask(req.params);
      const query = req.query as { after?: unknown; limit?: unknown };
      return store.listRounds(task.spec.id, {
        after: optionalInt('after', query.after, 0, 0xffffffff),
        limit: optionalInt('limit', query.limit, 1, 1000) ?? 1000,
      });
    },
  );

  app.get(
    '/api/tasks/:id/evaluations',
    operator(
      'Federated evaluation rounds (task evaluation.federated), oldest first: the version, cohort, reports, drop-outs, bytes, and the metrics across devices',
      { querystring: EVALUATIONS_QUERY },
      { type: 'array', items: EVALUATION_RECORD },
    ),
    async (req) => {
      const task = await getTask(req.params);
      const query = req.query as { latest?: number };
      return store.listEvaluations(task.spec.id, { latest: query.latest ?? 1000 });
    },
  );

  // The privacy ledger as committed: epsilon spent at the task's delta, the rounds charged, the
  // next round's clip norm, and why the task stopped if its budget did.
  app.get(
    '/api/tasks/:id/privacy',
    operator(
      'Privacy ledger: epsilon spent at delta, budget and what remains, rounds charged, the next clip norm, why the task stopped',
      {},
      PRIVACY,
    ),
    async (req) => {
      const task = await getTask(req.params);
      const settings = task.spec.privacy;
      const stored = await store.getPrivacy(task.spec.id);
      const spent = privacySummary(settings, stored);
      const budget = settings.mode === 'off' ? null : settings.epsilonBudget;
      return {
        taskId: task.spec.id,
        status: task.status,
        mode: settings.mode,
        settings,
        delta: spent?.delta ?? null,
        epsilon: spent ? spent.epsilon : null,
        order: spent && Number.isFinite(spent.order) ? spent.order : null,
        epsilonBudget: budget,
        remaining: budget !== null && spent ? Math.max(0, budget - spent.epsilon) : null,
        rounds: spent?.rounds ?? 0,
        version: stored?.version ?? null,
        clipNorm: currentClipNorm(settings, stored),
        exhausted: stored?.exhausted ?? null,
        entries: spent?.entries ?? [],
      };
    },
  );

  app.get(
    '/api/tasks/:id/versions',
    operator('Committed model versions', {}, { type: 'array', items: VERSION }),
    async (req) => store.listVersions((await getTask(req.params)).spec.id),
  );

  // tfjs resolves weight paths against the model URL's folder, so
  // /api/tasks/:id/model finds its weights at /api/tasks/:id/model/weights.bin.
  app.get(
    '/api/tasks/:id/model',
    operator(
      'tfjs model.json of a version (default: the current one); a LoRA task also as its adapters',
      { querystring: MODEL_QUERY },
      {
        type: 'object',
        additionalProperties: true,
      },
    ),
    async (req) => {
      const task = await getTask(req.params);
      const version = versionOf(task, req.query);
      // VERSION_PRUNED (410) for a version retention dropped; else it is kept until the
      // weights this file names have been fetched too.
      if (!(await store.getVersion(task.spec.id, version)))
        throw new PollenError('NOT_FOUND', 'no such model version');
      engine.pins.pin(task.spec.id, version);
      const form = formOf(req.query);
      const tuned = await fineTuned(task, version, form);
      return {
        format: 'layers-model',
        generatedBy: 'Pollen',
        convertedBy: null,
        modelTopology: tuned?.modelTopology ?? (await modelTopology(task.spec)),
        weightsManifest: [
          {
            paths: [`model/weights.bin?version=${version}${form === 'adapters' ? '&form=adapters' : ''}`],
            weights:
              tuned?.weightSpecs ??
              task.weightSpec.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' })),
          },
        ],
        userDefinedMetadata: { taskId: task.spec.id, version },
      };
    },
  );

  app.get(
    '/api/tasks/:id/model/weights.bin',
    operator('Weights of a version, little-endian float32', { querystring: MODEL_QUERY }, BINARY),
    async (req, reply) => {
      const task = await getTask(req.params);
      const version = versionOf(task, req.query);
      const tuned = await fineTuned(task, version, formOf(req.query));
      const model = tuned ? null : await store.getVersion(task.spec.id, version);
      const bytes = tuned?.weightData ?? model?.weights;
      if (!bytes) throw new PollenError('NOT_FOUND', 'no such model version');
      reply.type('application/octet-stream');
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  );

  app.get(
    '/api/tasks/:id/shard/:clientId',
    {
      schema: {
        summary:
          "A client's demo shard: labelled examples of the task, in the task's dtypes ('PLX1' example-set bytes, @pollen/ml's codec)",
        params: SHARD_PARAMS,
        response: { 200: BINARY, ...ERRORS },
      },
    },
    async (req, reply) => {
      const task = await getTask(req.params);
      const clientId = expectString(
        'clientId',
        (req.params as { clientId?: unknown }).clientId,
        64,
        CLIENT_ID_PATTERN,
        'INVALID_ARGUMENT',
      );
      const data = task.spec.data;
      if (!data) throw new PollenError('NOT_FOUND', `task "${task.spec.id}" has no demo data`);
      const shard = await store.shardFor(clientId, task.spec.id, data.numShards);
      const bytes = encodeExampleSet(task.spec, builtinShard(task.spec, shard));
      reply.type('application/octet-stream').header('x-pollen-shard', String(shard));
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  );
}
