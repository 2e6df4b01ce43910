/**
 * The coordinator's HTTP API as an OpenAPI 3.1 document, served at /api/openapi.json.
 * Contributor messages travel over Socket.io and are typed in @pollen/fl-core's protocol.ts.
 */
const error = { $ref: '#/components/schemas/Error' };
const taskId = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
};
const version = { name: 'version', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } };
const operator = [{ operatorToken: [] }];
const errors = {
  '400': { description: 'Invalid input', content: { 'application/json': { schema: error } } },
  '401': {
    description: 'Missing or wrong operator token',
    content: { 'application/json': { schema: error } },
  },
  '404': { description: 'No such task or route', content: { 'application/json': { schema: error } } },
};
const json = (description: string): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const binary = (description: string): Record<string, unknown> => ({
  description,
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
});

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'Pollen coordinator',
    version: '0.1.0',
    description: 'Federated learning across browsers and phones.',
  },
  components: {
    securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: {
        type: 'object',
        required: ['ok', 'code', 'message'],
        properties: { ok: { const: false }, code: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
  paths: {
    '/healthz': { get: { summary: 'Liveness', responses: { '200': json('Up') } } },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        security: operator,
        responses: { '200': { description: 'text/plain exposition' }, ...errors },
      },
    },
    '/api/tasks': {
      get: { summary: 'Tasks, public summary', responses: { '200': json('Task summaries') } },
      post: {
        summary: 'Create a task (fields override the default MNIST task)',
        security: operator,
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
        responses: { '201': json('Created'), ...errors },
      },
    },
    '/api/tasks/{id}': {
      get: {
        summary: 'One task with its spec',
        parameters: [taskId],
        responses: { '200': json('Task'), ...errors },
      },
      patch: {
        summary: 'Configure name, description, owner, training, rounds or maxUpdateNorm',
        security: operator,
        parameters: [taskId],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
        responses: { '200': json('Updated task'), ...errors },
      },
    },
    '/api/tasks/{id}/start': {
      post: {
        summary: 'Resume selecting rounds',
        security: operator,
        parameters: [taskId],
        responses: { '200': json('Status'), ...errors },
      },
    },
    '/api/tasks/{id}/pause': {
      post: {
        summary: 'Finish the round in flight, select no more',
        security: operator,
        parameters: [taskId],
        responses: { '200': json('Status'), ...errors },
      },
    },
    '/api/tasks/{id}/stop': {
      post: {
        summary: 'Abandon the round in flight and stop',
        security: operator,
        parameters: [taskId],
        responses: { '200': json('Status'), ...errors },
      },
    },
    '/api/tasks/{id}/rounds': {
      get: {
        summary: 'Round records',
        security: operator,
        parameters: [
          taskId,
          { name: 'after', in: 'query', schema: { type: 'integer' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 1000 } },
        ],
        responses: { '200': json('Rounds'), ...errors },
      },
    },
    '/api/tasks/{id}/privacy': {
      get: {
        summary:
          'Privacy ledger: epsilon spent at delta, budget and what remains, rounds charged, the next clip norm, why the task stopped',
        security: operator,
        parameters: [taskId],
        responses: { '200': json('Privacy ledger'), ...errors },
      },
    },
    '/api/tasks/{id}/versions': {
      get: {
        summary: 'Committed model versions',
        security: operator,
        parameters: [taskId],
        responses: { '200': json('Versions'), ...errors },
      },
    },
    '/api/tasks/{id}/model': {
      get: {
        summary: 'tfjs model.json of a version',
        security: operator,
        parameters: [taskId, version],
        responses: { '200': json('model.json'), ...errors },
      },
    },
    '/api/tasks/{id}/model/weights.bin': {
      get: {
        summary: 'Weights of a version',
        security: operator,
        parameters: [taskId, version],
        responses: { '200': binary('float32 weights'), ...errors },
      },
    },
    '/api/tasks/{id}/shard/{clientId}': {
      get: {
        summary: "A client's demo shard",
        parameters: [
          taskId,
          {
            name: 'clientId',
            in: 'path',
            required: true,
            schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,64}$' },
          },
        ],
        responses: { '200': binary('Labelled uint8 examples'), ...errors },
      },
    },
  },
} as const;
