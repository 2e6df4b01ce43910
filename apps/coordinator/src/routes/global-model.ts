import { expectString, PollenError, TASK_ID_PATTERN } from '@pollen/fl-core';
import { BASE_CHECKSUM_HEADER } from '@pollen/participation';
import type { FastifyInstance } from 'fastify';
import type { JoinTokenVerifier } from '../admission/join-token.ts';
import type { Engine } from '../rounds/engine.ts';
import { BINARY, TASK_PARAMS } from './schemas.ts';

/** The header a page sends a task's join token in (the same JWT its socket handshake carries). */
export const JOIN_TOKEN_HEADER = 'x-pollen-join-token';
/** The header naming the version of the weights served. */
export const VERSION_HEADER = 'x-pollen-version';
/** A compact JWT is three base64url parts; longer than this is not a join token. */
const MAX_JOIN_TOKEN_CHARS = 4096;
const JWT_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const error = {
  type: 'object',
  properties: { ok: { const: false }, code: { type: 'string' }, message: { type: 'string' } },
} as const;

/**
 * The current global model of a task, for contributor pages to try it on their visitor's own
 * input (docs/tasks.md, "Try the model"): the weights as little-endian float32 in the order of
 * the task's `weightSpec` (GET /api/tasks/:id), with the version in `x-pollen-version` and as the
 * ETag, so a page polling with `If-None-Match` gets 304 until a new version commits. A task that
 * admits holders of a join token only serves its model to them too (same codes as the handshake).
 */
export async function globalModelRoute(
  app: FastifyInstance,
  opts: { engine: Engine; tokens: JoinTokenVerifier },
): Promise<void> {
  const { engine, tokens } = opts;
  app.get(
    '/api/tasks/:id/global',
    {
      schema: {
        summary: "The task's current global weights, float32, for trying the model in the page",
        params: TASK_PARAMS,
        headers: {
          type: 'object',
          properties: { [JOIN_TOKEN_HEADER]: { type: 'string' }, 'if-none-match': { type: 'string' } },
        },
        response: {
          200: BINARY,
          304: { description: 'The version named in If-None-Match is still the current one', type: 'null' },
          401: { description: 'A join token is required, or the one sent is not valid', ...error },
          403: { description: 'The join token does not admit to this task', ...error },
          404: { description: 'No such task', ...error },
        },
      },
    },
    async (req, reply) => {
      const id = expectString('id', (req.params as { id?: unknown }).id, 63, TASK_ID_PATTERN, 'NOT_FOUND');
      const task = await engine.store.getTask(id);
      if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${id}"`);
      if (task.spec.admission?.joinToken) await admit(tokens, req.headers[JOIN_TOKEN_HEADER], id);
      const version = task.currentVersion;
      const etag = `"v${version}"`;
      reply.header('etag', etag).header(VERSION_HEADER, String(version)).header('cache-control', 'no-cache');
      if (req.headers['if-none-match'] === etag) return reply.status(304).send();
      reply.type('application/octet-stream');
      // A fine-tuning task's whole model: its round vector over the frozen base, LoRA merged, in
      // the layout GET /api/tasks/:id names `modelWeightSpec`.
      const tuned = await engine.fineTunedModel(task, version);
      if (tuned)
        return Buffer.from(tuned.weightData.buffer, tuned.weightData.byteOffset, tuned.weightData.byteLength);
      const model = await engine.store.getVersion(id, version);
      if (!model) throw new PollenError('NOT_FOUND', `task "${id}" has no weights for version ${version}`);
      return Buffer.from(model.weights.buffer, model.weights.byteOffset, model.weights.byteLength);
    },
  );

  app.get(
    '/api/tasks/:id/base',
    {
      schema: {
        summary:
          'A fine-tuning task\'s frozen base (docs/design.md, "Fine-tuning"): the weights outside the round\'s vector, a dense f32 frame (@pollen/compression), its SHA-256 in the ETag',
        params: TASK_PARAMS,
        headers: { type: 'object', properties: { [JOIN_TOKEN_HEADER]: { type: 'string' } } },
        response: {
          200: BINARY,
          401: { description: 'A join token is required, or the one sent is not valid', ...error },
          403: { description: 'The join token does not admit to this task', ...error },
          404: { description: 'No such task, or it trains every weight (no frozen base)', ...error },
        },
      },
    },
    async (req, reply) => {
      const id = expectString('id', (req.params as { id?: unknown }).id, 63, TASK_ID_PATTERN, 'NOT_FOUND');
      const task = await engine.store.getTask(id);
      if (!task) throw new PollenError('UNKNOWN_TASK', `no task "${id}"`);
      if (task.spec.admission?.joinToken) await admit(tokens, req.headers[JOIN_TOKEN_HEADER], id);
      await engine.ensureRunner(task);
      const base = await engine.model(id)?.frozenBase();
      if (!base)
        throw new PollenError('NOT_FOUND', `task "${id}" trains every weight: it has no frozen base`);
      // The base never changes during a task: a device keeps it by checksum.
      reply
        .type('application/octet-stream')
        .header('etag', `"${base.checksum}"`)
        .header(BASE_CHECKSUM_HEADER, base.checksum)
        .header('cache-control', 'public, max-age=31536000, immutable');
      return Buffer.from(base.frame.buffer, base.frame.byteOffset, base.frame.byteLength);
    },
  );
}

/** Check a join token header against a task. Codes: JOIN_TOKEN_REQUIRED, JOIN_TOKEN_INVALID, JOIN_TOKEN_WRONG_TASK. */
async function admit(tokens: JoinTokenVerifier, header: unknown, taskId: string): Promise<void> {
  if (header === undefined) {
    throw new PollenError(
      'JOIN_TOKEN_REQUIRED',
      `task "${taskId}" serves its model to holders of a join token only`,
    );
  }
  if (typeof header !== 'string' || header.length > MAX_JOIN_TOKEN_CHARS || !JWT_PATTERN.test(header)) {
    throw new PollenError(
      'JOIN_TOKEN_INVALID',
      `"${JOIN_TOKEN_HEADER}" expected a compact JWT of at most ${MAX_JOIN_TOKEN_CHARS} characters`,
    );
  }
  if (!(await tokens.verify(header)).includes(taskId)) {
    throw new PollenError('JOIN_TOKEN_WRONG_TASK', `the join token does not admit to task "${taskId}"`);
  }
}
