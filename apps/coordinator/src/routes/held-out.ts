import { expectString, PollenError, TASK_ID_PATTERN } from '@pollen/fl-core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { builtinBaselines } from '../data/builtin.ts';
import { readHeldOut } from '../data/held-out-reader.ts';
import type { Engine } from '../rounds/engine.ts';
import type { HeldOutInfo, StoredTask } from '../store/types.ts';
import { HELD_OUT, HELD_OUT_BODY, OPERATOR_ERRORS, OPERATOR_SECURITY, TASK_PARAMS } from './schemas.ts';

/**
 * At most this many bytes of held-out data: the CSV or JSON-lines body, and the examples it
 * holds in the task's dtypes (docs/tasks.md).
 */
export const MAX_HELD_OUT_BYTES = 64 * 1024 * 1024;

const MEDIA_TYPES = { 'text/csv': 'csv', 'application/x-ndjson': 'jsonl' } as const;

type HeldOutReply = Record<string, unknown>;

function reply(task: StoredTask, info: HeldOutInfo | undefined): HeldOutReply {
  const taskId = task.spec.id;
  if (info) return { ...info, source: 'uploaded' };
  const none = { count: null, bytes: null, digest: null, uploadedAt: null };
  if (!task.spec.data) return { taskId, source: null, ...none };
  // What the task's metrics on its built-in held-out set compare against (data/builtin.ts).
  return { taskId, source: 'builtin', ...none, baselines: builtinBaselines(task.spec) };
}

/**
 * A task's held-out data, for operators: upload (replacing any), read what it is, delete. An
 * upload is read against the task (@pollen/ml/data: CSV with the spec's `columns`, or JSON
 * lines), every row checked; the first bad row refuses the file with INVALID_DATA naming its
 * line and field. Every version committed after is evaluated on it (ml/held-out-source.ts).
 */
export async function heldOutRoutes(
  app: FastifyInstance,
  opts: { engine: Engine; guard: (req: FastifyRequest) => Promise<void> },
): Promise<void> {
  const { engine, guard } = opts;
  const { store } = engine;
  app.addContentTypeParser(
    Object.keys(MEDIA_TYPES),
    { parseAs: 'string', bodyLimit: MAX_HELD_OUT_BYTES },
    (_req, body, done) => done(null, body),
  );
  const getTask = async (params: unknown): Promise<StoredTask> => {
    const id = expectString('id', (params as { id?: unknown }).id, 63, TASK_ID_PATTERN, 'NOT_FOUND');
    const task = await store.getTask(id);
    if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${id}"`);
    return task;
  };
  const schema = (summary: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    summary,
    security: OPERATOR_SECURITY,
    params: TASK_PARAMS,
    ...extra,
    response: { 200: HELD_OUT, ...OPERATOR_ERRORS },
  });

  app.put(
    '/api/tasks/:id/held-out',
    {
      onRequest: guard,
      bodyLimit: MAX_HELD_OUT_BYTES,
      schema: schema(
        "Upload held-out data (CSV or JSON lines, up to 64 MiB), replacing any; every later version is evaluated on it with the task's loss and metrics",
        { body: HELD_OUT_BODY },
      ),
    },
    async (req) => {
      const task = await getTask(req.params);
      const format =
        MEDIA_TYPES[req.headers['content-type']?.split(';')[0]?.trim() as keyof typeof MEDIA_TYPES];
      if (!format || typeof req.body !== 'string') {
        throw new PollenError(
          'INVALID_DATA',
          'held-out data is a text/csv or application/x-ndjson (JSON lines) body',
        );
      }
      // Read off the event loop: a large file takes seconds (data/held-out-reader.ts).
      const { count, bytes } = await readHeldOut(task.spec, req.body, format);
      if (bytes.byteLength > MAX_HELD_OUT_BYTES) {
        throw new PollenError(
          'PAYLOAD_TOO_LARGE',
          `the ${count} examples take ${bytes.byteLength} bytes in the task's dtypes, more than ${MAX_HELD_OUT_BYTES}`,
        );
      }
      const info = await store.putHeldOut(task.spec.id, count, bytes);
      engine.heldOut.invalidate(task.spec.id);
      req.log.info({ task: task.spec.id, count: info.count, bytes: info.bytes }, 'held-out data uploaded');
      return reply(task, info);
    },
  );

  app.get(
    '/api/tasks/:id/held-out',
    {
      onRequest: guard,
      schema: schema('Where versions are evaluated: uploaded data, built-in data, or none'),
    },
    async (req) => {
      const task = await getTask(req.params);
      return reply(task, await store.getHeldOutInfo(task.spec.id));
    },
  );

  app.delete(
    '/api/tasks/:id/held-out',
    {
      onRequest: guard,
      schema: schema(
        'Delete uploaded held-out data; later versions are evaluated on the built-in data, or not at all',
      ),
    },
    async (req) => {
      const task = await getTask(req.params);
      await store.deleteHeldOut(task.spec.id);
      engine.heldOut.invalidate(task.spec.id);
      return reply(task, undefined);
    },
  );
}
