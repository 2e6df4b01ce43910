import type { InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NodeContributor,
  OPERATOR_HEADERS,
  removeDir,
  startTestCoordinator,
  type TestCoordinator,
  waitFor,
} from '../testing/harness.ts';

let coordinator: TestCoordinator | undefined;

afterEach(async () => {
  await coordinator?.close();
  if (coordinator) removeDir(coordinator.dataDir);
  coordinator = undefined;
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = OPERATOR_HEADERS,
): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const res = await coordinator!.app.inject({
    method: method as InjectOptions['method'],
    url: path,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  const text = res.body;
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // metrics are text
  }
  return { status: res.statusCode, body: parsed, text };
}

const quiet = { rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 5000 } };

describe('operator API', () => {
  it('refuses every operator route without a token or with a wrong one, and keeps data hidden', async () => {
    coordinator = await startTestCoordinator(quiet);
    const routes: [string, string][] = [
      ['GET', '/api/tasks/tiny/rounds'],
      ['GET', '/api/tasks/tiny/versions'],
      ['GET', '/api/tasks/tiny/model'],
      ['GET', '/api/tasks/tiny/model/weights.bin'],
      ['GET', '/metrics'],
      ['POST', '/api/tasks'],
      ['PATCH', '/api/tasks/tiny'],
      ['POST', '/api/tasks/tiny/start'],
      ['POST', '/api/tasks/tiny/pause'],
      ['POST', '/api/tasks/tiny/stop'],
      ['PUT', '/api/tasks/tiny/held-out'],
      ['GET', '/api/tasks/tiny/held-out'],
      ['DELETE', '/api/tasks/tiny/held-out'],
    ];
    const bad: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-wrong-token' },
      { authorization: 'Basic abc' },
      { authorization: 'Bearer ' },
    ];
    for (const [method, path] of routes) {
      for (const headers of bad) {
        const res = await call(
          method,
          path,
          method === 'GET' || method === 'DELETE' ? undefined : {},
          headers,
        );
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.body.code).toBe('UNAUTHORIZED');
      }
    }
    // Nothing changed and public routes still answer.
    expect((await coordinator.store.getTask('tiny'))!.status).toBe('running');
    expect((await call('GET', '/api/tasks', undefined, {})).status).toBe(200);
  });

  it('pauses, resumes and stops a task; a paused task selects no one', async () => {
    coordinator = await startTestCoordinator(quiet);
    expect((await call('POST', '/api/tasks/tiny/pause')).body.status).toBe('paused');
    const client = new NodeContributor(coordinator.url, 'client-paus', (g) => new Float32Array(g.length));
    await client.hello();
    await new Promise((r) => setTimeout(r, 1500));
    expect(client.rounds).toHaveLength(0);
    expect((await call('POST', '/api/tasks/tiny/start')).body.status).toBe('running');
    await waitFor(() => client.rounds.length > 0, 10_000);
    const stopped = await call('POST', '/api/tasks/tiny/stop');
    expect(stopped.body.status).toBe('stopped');
    expect((await call('POST', '/api/tasks/nope/start')).body.code).toBe('UNKNOWN_TASK');
    client.close();
  });

  it('creates and configures tasks, refusing bad ones with INVALID_TASK', async () => {
    coordinator = await startTestCoordinator(quiet);
    const created = await call('POST', '/api/tasks', { id: 'second', model: { kind: 'mlp', hidden: [4] } });
    expect(created.status).toBe(201);
    expect((await call('GET', '/api/tasks', undefined, {})).body).toHaveLength(2);
    expect((await call('POST', '/api/tasks', { id: 'second' })).body.code).toBe('INVALID_TASK');
    expect((await call('POST', '/api/tasks', { id: 'x', training: { epochs: -1 } })).body.code).toBe(
      'INVALID_TASK',
    );
    expect((await call('POST', '/api/tasks', [1, 2])).body.code).toBe('INVALID_TASK');
    const res = await coordinator.app.inject({
      method: 'POST',
      url: '/api/tasks',
      headers: { ...OPERATOR_HEADERS, 'content-type': 'application/json' },
      payload: '{not json',
    });
    expect(res.statusCode).toBe(400);
    const configured = await call('PATCH', '/api/tasks/second', {
      training: { learningRate: 0.05 },
      rounds: { deadlineMs: 9000 },
    });
    expect(configured.status).toBe(200);
    expect((await coordinator.store.getTask('second'))!.spec.training.learningRate).toBe(0.05);
    expect((await coordinator.store.getTask('second'))!.spec.training.epochs).toBe(1);
    expect((await call('PATCH', '/api/tasks/second', { modelTopology: {} })).body.code).toBe('INVALID_TASK');
    expect((await call('PATCH', '/api/tasks/second', { rounds: { minReports: 0 } })).body.code).toBe(
      'INVALID_TASK',
    );
  });

  it('serves Prometheus metrics and the OpenAPI document', async () => {
    coordinator = await startTestCoordinator(quiet);
    const client = new NodeContributor(coordinator.url, 'client-metr', (g) =>
      new Float32Array(g.length).fill(0.01),
    );
    await client.hello();
    // Held-out evaluation attaches its time after the commit (docs/design.md).
    await waitFor(
      async () =>
        (await coordinator!.store.listRounds('tiny')).some(
          (r) => r.status === 'committed' && r.evaluationMs !== undefined,
        ),
      10_000,
    );
    const metrics = await call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/pollen_connected_clients\{task="tiny",backend="cpu"\} 1/);
    expect(metrics.text).toMatch(/pollen_rounds_total\{task="tiny",status="committed"\} \d+/);
    expect(metrics.text).toMatch(/pollen_update_bytes_total\{task="tiny",direction="up"\} \d+/);
    // Every metric the issue names: connected clients, rounds started/committed/abandoned,
    // survivors per round, bytes in and out, aggregation time.
    for (const name of [
      'pollen_connected_clients',
      'pollen_rounds_started_total',
      'pollen_rounds_total',
      'pollen_rounds_in_flight',
      'pollen_round_survivors_bucket',
      'pollen_update_bytes_total',
      'pollen_aggregation_seconds_bucket',
      'pollen_aggregation_seconds_count',
      'pollen_evaluation_seconds_count',
      'pollen_round_staleness_bucket',
    ]) {
      expect(metrics.text, name).toMatch(new RegExp(`^${name}\\{[^}]*task="tiny"`, 'm'));
    }
    // Upload flow control (rounds go on meanwhile: a client may hold a slot as this is read).
    expect(metrics.text).toMatch(/^pollen_upload_bytes_in_flight \d+$/m);
    expect(metrics.text).toMatch(/^pollen_upload_slots_waiting \d+$/m);
    const openapi = await call('GET', '/api/openapi.json', undefined, {});
    expect(openapi.body.openapi).toBe('3.1.0');
    // Generated from the routes' schemas: every route the coordinator serves is in it, with the
    // operator's bearer token on every operator route.
    const paths = openapi.body.paths as Record<string, Record<string, { security?: unknown[] }>>;
    const visible = coordinator.routes.filter((r) => !r.hidden);
    expect(visible.length).toBeGreaterThanOrEqual(15);
    for (const { method, url } of visible) {
      const path = url.replace(/:([A-Za-z]+)/g, '{$1}');
      const operation = paths[path]?.[method.toLowerCase()] as { summary?: string } | undefined;
      expect(operation, `${method} ${url}`).toBeDefined();
      // Declared, not merely discovered: every route has its schema, so its summary.
      expect(operation!.summary, `${method} ${url}`).toBeTruthy();
    }
    expect(paths['/api/tasks/{id}/rounds']!.get!.security).toEqual([{ operatorToken: [] }]);
    expect(paths['/api/tasks/{id}']!.patch!.security).toEqual([{ operatorToken: [] }]);
    expect(paths['/api/tasks']!.get!.security).toBeUndefined();
    client.close();
  });
});

describe('contributor rate limiting', () => {
  it('answers a flood with RATE_LIMITED, then disconnects it, and keeps serving others', async () => {
    coordinator = await startTestCoordinator(quiet);
    const flooder = new NodeContributor(coordinator.url, 'client-flood');
    await flooder.hello();
    // All at once, so they arrive faster than any machine refills the bucket (5 a second):
    // one at a time, a slow machine's round trips alone keep the rate under the limit.
    const acks = await Promise.all(
      Array.from({ length: 120 }, () =>
        flooder.socket
          .timeout(5000)
          .emitWithAck('eligibility', { eligible: true, numExamples: 1 })
          .catch(() => ({ ok: false as const, code: 'DISCONNECTED', message: '' })),
      ),
    );
    const codes = acks.map((ack) => (ack.ok ? 'ok' : ack.code));
    expect(codes).toContain('RATE_LIMITED');
    await waitFor(() => !flooder.socket.connected, 5000);
    const honest = new NodeContributor(coordinator.url, 'client-hone');
    expect((await honest.hello()).ok).toBe(true);
    honest.close();
  });
});
