import { expectObject, expectOneOf, expectString, PollenError, TASK_ID_PATTERN } from '@pollen/fl-core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { Engine } from '../rounds/engine.ts';
import { resolveTaskInput } from '../task-file.ts';
import { OPENAPI } from './openapi.ts';

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

  app.get('/api/openapi.json', async () => OPENAPI);

  app.get('/metrics', { onRequest: guard }, async (_req, reply) => {
    reply.type(metrics.contentType);
    return metrics.metrics();
  });

  app.post('/api/tasks', { onRequest: guard }, async (req, reply) => {
    const spec = await resolveTaskInput(expectObject('body', req.body, 'INVALID_TASK'));
    const task = await engine.createTask(spec);
    reply.status(201);
    return {
      id: task.spec.id,
      status: task.status,
      currentVersion: task.currentVersion,
      weightSpec: task.weightSpec,
    };
  });

  app.patch('/api/tasks/:id', { onRequest: guard }, async (req) => {
    const id = idOf(req.params);
    const current = await engine.store.getTask(id);
    if (!current) throw new PollenError('UNKNOWN_TASK', `no task "${id}"`);
    const body = expectObject('body', req.body, 'INVALID_TASK');
    for (const key of Object.keys(body)) {
      expectOneOf(
        `body.${key}`,
        key,
        ['name', 'description', 'owner', 'training', 'rounds', 'maxUpdateNorm'],
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
  });

  for (const action of ['start', 'pause', 'stop'] as const) {
    app.post(`/api/tasks/:id/${action}`, { onRequest: guard }, async (req) => {
      const status = action === 'start' ? 'running' : action === 'pause' ? 'paused' : 'stopped';
      const task = await engine.setStatus(idOf(req.params), status);
      return { id: task.spec.id, status: task.status, currentVersion: task.currentVersion };
    });
  }
}
