import multipart from '@fastify/multipart';
import { expectObject, expectOneOf, expectString, PollenError, TASK_ID_PATTERN } from '@pollen/fl-core';
import type { FastifyInstance, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { Registry } from 'prom-client';
import type { Engine } from '../rounds/engine.ts';
import { resolveTaskInput } from '../task-file.ts';
import { heldOutRoutes } from './held-out.ts';
import { openapiRoute } from './openapi.ts';
import {
  OPERATOR_ERRORS,
  OPERATOR_SECURITY,
  TASK_BODY,
  TASK_PARAMS,
  TASK_PATCH,
  TASK_STATUS,
} from './schemas.ts';
import { checkTaskOverrides, readTaskUpload } from './task-upload.ts';

/**
 * The task body's validator: a JSON body is checked against the task schema by @pollen/fl-core
 * (INVALID_TASK naming the field, no type coercion), then merged and validated whole; a
 * multipart body is read and checked part by part in the handler.
 */
const taskBodyValidator: FastifySchemaCompiler<unknown> = ({ contentType }) =>
  contentType === 'application/json'
    ? (body: unknown) => {
        try {
          return { value: checkTaskOverrides(body) };
        } catch (error) {
          return { error: error as Error };
        }
      }
    : () => true;

export interface OperatorRouteOptions {
  readonly engine: Engine;
  readonly metrics: Registry;
  readonly guard: (req: FastifyRequest) => Promise<void>;
}

/**
 * The operator API, every route behind the bearer-token guard: create and configure tasks,
 * start, pause and stop them, and scrape metrics.
 */
export async function operatorRoutes(app: FastifyInstance, opts: OperatorRouteOptions): Promise<void> {
  const { engine, metrics, guard } = opts;
  const idOf = (params: unknown): string =>
    expectString('id', (params as { id?: unknown }).id, 63, TASK_ID_PATTERN, 'NOT_FOUND');

  openapiRoute(app);
  // Multipart bodies for the operator's uploads only; limits are set per request (task-upload.ts).
  await app.register(multipart);

  app.get(
    '/metrics',
    {
      onRequest: guard,
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        security: OPERATOR_SECURITY,
        response: { 200: { type: 'string', description: 'text/plain; version=0.0.4' }, ...OPERATOR_ERRORS },
      },
    },
    async (_req, reply) => {
      reply.type(metrics.contentType);
      return metrics.metrics();
    },
  );

  app.post(
    '/api/tasks',
    {
      onRequest: guard,
      schema: {
        summary:
          'Create a task: JSON (fields override the default MNIST task), or multipart with a tfjs model.json and its weight files',
        security: OPERATOR_SECURITY,
        body: TASK_BODY,
        response: {
          201: {
            type: 'object',
            properties: {
              ...TASK_STATUS.properties,
              weightSpec: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
          },
          ...OPERATOR_ERRORS,
        },
      },
      validatorCompiler: taskBodyValidator,
    },
    async (req, reply) => {
      const input = req.isMultipart()
        ? await readTaskUpload(req)
        : expectObject('body', req.body, 'INVALID_TASK');
      const spec = await resolveTaskInput(input);
      const task = await engine.createTask(spec);
      reply.status(201);
      return {
        id: task.spec.id,
        status: task.status,
        currentVersion: task.currentVersion,
        weightSpec: task.weightSpec,
      };
    },
  );

  app.patch(
    '/api/tasks/:id',
    {
      onRequest: guard,
      schema: {
        summary: 'Configure name, description, owner, columns, training, rounds or maxUpdateNorm',
        security: OPERATOR_SECURITY,
        params: TASK_PARAMS,
        body: TASK_PATCH,
        response: {
          200: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              status: { type: 'string' },
              spec: { type: 'object', additionalProperties: true },
            },
          },
          ...OPERATOR_ERRORS,
        },
      },
    },
    async (req) => {
      const id = idOf(req.params);
      const current = await engine.store.getTask(id);
      if (!current) throw new PollenError('UNKNOWN_TASK', `no task "${id}"`);
      const body = expectObject('body', req.body, 'INVALID_TASK');
      for (const key of Object.keys(body)) {
        expectOneOf(
          `body.${key}`,
          key,
          ['name', 'description', 'owner', 'columns', 'training', 'rounds', 'maxUpdateNorm'],
          'INVALID_TASK',
        );
      }
      const { spec } = current;
      const merged = await resolveTaskInput({
        ...spec,
        ...body,
        training: { ...spec.training, ...(body.training as object | undefined) },
        rounds: { ...spec.rounds, ...(body.rounds as object | undefined) },
      });
      const task = await engine.configure(id, merged);
      return { id, status: task.status, spec: task.spec };
    },
  );

  await app.register(heldOutRoutes, { engine, guard });

  const SUMMARIES = {
    start: 'Resume selecting rounds',
    pause: 'Let the rounds in flight finish, select no more',
    stop: 'Abandon the rounds in flight and stop',
  } as const;
  for (const action of ['start', 'pause', 'stop'] as const) {
    app.post(
      `/api/tasks/:id/${action}`,
      {
        onRequest: guard,
        schema: {
          summary: SUMMARIES[action],
          security: OPERATOR_SECURITY,
          params: TASK_PARAMS,
          response: { 200: TASK_STATUS, ...OPERATOR_ERRORS },
        },
      },
      async (req) => {
        const status = action === 'start' ? 'running' : action === 'pause' ? 'paused' : 'stopped';
        const task = await engine.setStatus(idOf(req.params), status);
        return { id: task.spec.id, status: task.status, currentVersion: task.currentVersion };
      },
    );
  }
}
