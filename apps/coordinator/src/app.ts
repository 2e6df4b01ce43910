import { existsSync } from 'node:fs';
import { parse as parseQuery } from 'node:querystring';
import fastifyStatic from '@fastify/static';
import { initTf } from '@pollen/ml';
import Fastify, { type FastifyInstance } from 'fastify';
import { Server } from 'socket.io';
import { AddressLimits, DEFAULT_ADDRESS_LIMITS } from './admission/address-limits.ts';
import { contributorHandshake } from './admission/handshake.ts';
import { JoinTokenVerifier } from './admission/join-token.ts';
import { operatorGuard } from './auth.ts';
import { type Clock, systemClock } from './clock.ts';
import { ClusterNode } from './cluster/node.ts';
import type { CoordinatorConfig } from './config.ts';
import { useMnistCache } from './data/mnist.ts';
import { defaultTaskSpec } from './default-task.ts';
import { asPollenError, HTTP_STATUS } from './errors.ts';
import { MessageLimit } from './message-limit.ts';
import { createMetrics } from './metrics.ts';
import { setEvaluatorNice } from './ml/evaluator-priority.ts';
import { Engine, type EngineOptions } from './rounds/engine.ts';
import { apiRoutes } from './routes/api.ts';
import { globalModelRoute } from './routes/global-model.ts';
import { openapi } from './routes/openapi.ts';
import { operatorRoutes } from './routes/operator.ts';
import { operatorSocket } from './routes/operator-socket.ts';
import type { PollenServer } from './socket.ts';
import { openStore } from './store/open.ts';
import type { Store } from './store/types.ts';
import { loadTaskFile } from './task-file.ts';

export interface Coordinator {
  readonly app: FastifyInstance;
  readonly io: PollenServer;
  readonly engine: Engine;
  readonly store: Store;
  /** This node of a cluster, when configured with Redis. */
  readonly cluster: ClusterNode | null;
  /** Every HTTP route, as registered (method and Fastify URL), for tests and the OpenAPI check. */
  readonly routes: readonly { readonly method: string; readonly url: string; readonly hidden: boolean }[];
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

/**
 * Build the coordinator without listening: the store, the engine with its tasks, the HTTP
 * routes and the Socket.io server. Tests call this and `app.listen({ port: 0 })`.
 */
export async function buildCoordinator(
  config: CoordinatorConfig,
  /** Tests drive time (testing/manual-clock.ts); a process runs on the system clock. */
  clock: Clock = systemClock,
  /** Tests control held-out evaluation (an evaluation that resolves when the test says). */
  testing: Pick<EngineOptions, 'evaluator'> = {},
): Promise<Coordinator> {
  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: 1024 * 1024,
    // A plugin (the routes, the OpenAPI document) may take more than Fastify's default 10 s to
    // load on a busy host; starting late beats failing to start.
    pluginTimeout: 120_000,
    // A field a schema does not allow is refused, never silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
    // tfjs appends a model URL's query to each weight path it lists: a model.json fetched with
    // `?version=3` has its `weights.bin?version=3` fetched as `weights.bin?version=3?version=3`.
    // The query is read up to a second '?', so both parts agree on what they name.
    routerOptions: { querystringParser: (query) => parseQuery(query.split('?', 1)[0]!) },
  });
  const routes: { method: string; url: string; hidden: boolean }[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: route.url, hidden: route.schema?.hide === true });
    }
  });
  await openapi(app);
  await initTf();
  if (config.evaluatorNice !== undefined) setEvaluatorNice(config.evaluatorNice);
  // POLLEN_MNIST_CACHE shares one converted copy between processes (the tests build it once a run).
  useMnistCache(process.env.POLLEN_MNIST_CACHE || config.dataDir);
  const store = await openStore(config);
  const engine = new Engine(store, app.log, clock, {
    ...testing,
    ...(config.retention ? { retention: config.retention } : {}),
    ...(config.evaluationSample !== undefined ? { evaluationSample: config.evaluationSample } : {}),
    ...(config.uploadBudgetBytes !== undefined ? { uploadBudgetBytes: config.uploadBudgetBytes } : {}),
  });
  const messageLimit = new MessageLimit(engine);
  let cluster: ClusterNode | null = null;
  try {
    if (config.cluster) {
      cluster = await ClusterNode.connect({
        redisUrl: config.cluster.redisUrl,
        nodeId: config.cluster.nodeId,
        population: engine.population,
        runners: (taskId) => engine.runner(taskId),
        tasks: () => engine.taskIds(),
        log: app.log,
      });
      engine.useCluster(cluster);
    }
    await engine.start();
    const spec = config.taskFile ? await loadTaskFile(config.taskFile) : await defaultTaskSpec();
    if (!(await store.getTask(spec.id))) {
      await engine.createTask(spec).catch(async (err: unknown) => {
        // Another node of the cluster, starting at the same time, created it first: run that one.
        const created = await store.getTask(spec.id);
        if (!created) throw err;
        await engine.ensureRunner(created);
      });
    }
  } catch (err) {
    await engine.close();
    await cluster?.close();
    await store.close();
    throw err;
  }

  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    return payload;
  });

  app.setErrorHandler((err: Error, _req, reply) => {
    const fastifyCode = (err as { code?: string }).code;
    const statusCode = (err as { statusCode?: number }).statusCode;
    const validation = err as { validation?: { instancePath?: string }[]; validationContext?: string };
    if (validation.validation) {
      // A path that names no valid task is not found; a bad task body is INVALID_TASK, as when
      // @pollen/fl-core refuses it; anything else is a bad argument.
      const where = validation.validationContext;
      const code =
        where === 'params' && validation.validation[0]?.instancePath === '/id'
          ? 'NOT_FOUND'
          : where === 'body'
            ? 'INVALID_TASK'
            : 'INVALID_ARGUMENT';
      return reply.status(HTTP_STATUS[code]).send({ ok: false, code, message: err.message });
    }
    if (fastifyCode?.startsWith('FST_') && statusCode && statusCode < 500) {
      const code = statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : 'INVALID_ARGUMENT';
      return reply.status(statusCode).send({ ok: false, code, message: err.message });
    }
    const e = asPollenError(err);
    if (e.code === 'INTERNAL') app.log.error({ err }, 'request failed');
    if (e.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer realm="pollen"');
    return reply.status(HTTP_STATUS[e.code]).send({ ok: false, code: e.code, message: e.message });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ ok: false, code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` }),
  );

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: uptime, tasks and connected contributors',
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              uptimeS: { type: 'integer' },
              tasks: { type: 'integer' },
              connected: { type: 'integer' },
            },
          },
        },
      },
    },
    async () => ({
      ok: true,
      uptimeS: Math.round(process.uptime()),
      tasks: (await store.listTasks()).length,
      connected: engine.population.counts().total,
    }),
  );
  // Per-request logs only at warn and above: contributors poll, operators refresh.
  const guard = operatorGuard(config.operatorTokens);
  await app.register(apiRoutes, { engine, guard, logLevel: 'warn' });
  const admission = config.admission ?? {};
  const tokens = new JoinTokenVerifier({
    secret: admission.joinTokenSecret ?? null,
    publicKey: admission.joinTokenPublicKey ?? null,
    issuer: admission.joinTokenIssuer ?? null,
  });
  await app.register(globalModelRoute, { engine, tokens, logLevel: 'warn' });
  await app.register(operatorRoutes, { engine, guard, metrics: createMetrics(engine) });

  if (config.webRoot && existsSync(config.webRoot)) {
    await app.register(fastifyStatic, {
      root: config.webRoot,
      prefix: '/',
      index: ['index.html'],
      logLevel: 'warn',
    });
    app.get('/dashboard', { schema: { summary: 'The operator dashboard (HTML)' } }, (_req, reply) =>
      reply.sendFile('dashboard.html'),
    );
  } else {
    app.get(
      '/',
      { schema: { summary: 'The contributor page, or 503 when the web client is not built' } },
      async (_req, reply) =>
        reply
          .status(503)
          .type('text/plain')
          .send('The web client is not built: run `pnpm build` (or `npm start`, which builds it).'),
    );
  }

  const io: PollenServer = new Server(app.server, {
    transports: ['websocket'],
    serveClient: false,
    maxHttpBufferSize: messageLimit.current,
    pingInterval: 10_000,
    pingTimeout: messageLimit.pingTimeout,
  });
  messageLimit.attach(io);
  await cluster?.attach(io);
  io.use(
    contributorHandshake({
      store,
      log: app.log,
      limits: new AddressLimits({
        maxConnections: admission.maxConnectionsPerAddress ?? DEFAULT_ADDRESS_LIMITS.maxConnections,
        hellosPerSecond: admission.hellosPerSecondPerAddress ?? DEFAULT_ADDRESS_LIMITS.hellosPerSecond,
      }),
      tokens,
    }),
  );
  engine.attach(io);
  operatorSocket(app, io, engine, config.operatorTokens);

  app.addHook('preClose', async () => {
    io.disconnectSockets(true);
    await engine.close();
  });
  app.addHook('onClose', async () => {
    await new Promise<void>((resolve) => io.close(() => resolve()));
    await cluster?.close();
    await store.close();
  });
  return { app, io, engine, store, cluster, routes };
}
