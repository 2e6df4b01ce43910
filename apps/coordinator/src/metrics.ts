import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine } from './rounds/engine.ts';

/**
 * Prometheus metrics of one coordinator, in a registry of its own (so several coordinators
 * in one process, as in tests, do not collide).
 */
export function createMetrics(engine: Engine): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pollen_' });

  new Gauge({
    name: 'pollen_connected_clients',
    help: 'Contributors connected, by task and training backend',
    labelNames: ['task', 'backend'],
    registers: [registry],
    async collect() {
      const tasks = await engine.store.listTasks();
      this.reset();
      for (const task of tasks) {
        const { byBackend } = engine.population.counts(task.spec.id);
        for (const [backend, n] of Object.entries(byBackend))
          this.set({ task: task.spec.id, backend }, n ?? 0);
      }
    },
  });
  new Gauge({
    name: 'pollen_evaluating_clients',
    help: 'Contributors in a federated evaluation round now, by task',
    labelNames: ['task'],
    registers: [registry],
    async collect() {
      const tasks = await engine.store.listTasks();
      this.reset();
      for (const task of tasks)
        this.set({ task: task.spec.id }, engine.population.counts(task.spec.id).evaluating);
    },
  });
  new Gauge({
    name: 'pollen_rounds_in_flight',
    help: 'Rounds currently collecting updates',
    labelNames: ['task'],
    registers: [registry],
    async collect() {
      const tasks = await engine.store.listTasks();
      this.reset();
      for (const task of tasks) {
        this.set({ task: task.spec.id }, engine.runner(task.spec.id)?.openRoundIds().length ?? 0);
      }
    },
  });
  new Gauge({
    name: 'pollen_upload_bytes_in_flight',
    help: 'Bytes of uploads granted a slot and not yet received (bounded by --upload-budget-mb)',
    registers: [registry],
    collect() {
      this.set(engine.uploadSlots.inFlightBytes);
    },
  });
  new Gauge({
    name: 'pollen_upload_slots_waiting',
    help: 'Trained devices waiting for an upload slot',
    registers: [registry],
    collect() {
      this.set(engine.uploadSlots.queued);
    },
  });
  const started = new Counter({
    name: 'pollen_rounds_started_total',
    help: 'Rounds opened (a synchronous cohort selected, or a FedBuff buffer opened)',
    labelNames: ['task', 'mode'],
    registers: [registry],
  });
  const rounds = new Counter({
    name: 'pollen_rounds_total',
    help: 'Rounds closed, by outcome (committed or abandoned)',
    labelNames: ['task', 'status'],
    registers: [registry],
  });
  const aggregation = new Histogram({
    name: 'pollen_aggregation_seconds',
    help: 'Time to aggregate a committed round and apply the server strategy (held-out evaluation excluded)',
    labelNames: ['task', 'mode'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const evaluation = new Histogram({
    name: 'pollen_evaluation_seconds',
    help: 'Time to evaluate a committed model on the held-out split (after its commit)',
    labelNames: ['task'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const skipped = new Counter({
    name: 'pollen_evaluations_skipped_total',
    help: 'Committed versions left unevaluated because a newer version arrived first (their metrics stay null)',
    labelNames: ['task'],
    registers: [registry],
  });
  const staleness = new Histogram({
    name: 'pollen_round_staleness',
    help: 'Versions between the model a committed round trained on and the one it was applied to (largest tau)',
    labelNames: ['task', 'mode'],
    buckets: [0, 1, 2, 3, 5, 10, 20],
    registers: [registry],
  });
  const survivors = new Histogram({
    name: 'pollen_round_survivors',
    help: 'Accepted updates per closed round',
    labelNames: ['task'],
    buckets: [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'pollen_round_dropped_clients_total',
    help: 'Selected clients that did not report',
    labelNames: ['task'],
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'pollen_update_bytes_total',
    help: 'Model bytes sent to clients (down) and received from them (up)',
    labelNames: ['task', 'direction'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'pollen_round_duration_seconds',
    help: 'Wall time from selection to commit or abandonment',
    labelNames: ['task', 'status'],
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'pollen_rejected_messages_total',
    help: 'Contributor messages refused, by error code',
    labelNames: ['code'],
    registers: [registry],
  });

  const evaluationRounds = new Counter({
    name: 'pollen_evaluation_rounds_total',
    help: 'Federated evaluation rounds closed (task evaluation.federated), by status',
    labelNames: ['task', 'status'],
    registers: [registry],
  });

  engine.on('roundStarted', (r) => started.inc({ task: r.taskId, mode: r.mode ?? 'sync' }));
  engine.on('round', (r) => {
    rounds.inc({ task: r.taskId, status: r.status });
    const mode = r.mode ?? 'sync';
    if (r.aggregationMs !== undefined) aggregation.observe({ task: r.taskId, mode }, r.aggregationMs / 1000);
    if (r.staleness) staleness.observe({ task: r.taskId, mode }, r.staleness.tau);
    survivors.observe({ task: r.taskId }, r.reported);
    dropped.inc({ task: r.taskId }, r.dropped);
    bytes.inc({ task: r.taskId, direction: 'up' }, r.bytesUp);
    bytes.inc({ task: r.taskId, direction: 'down' }, r.bytesDown);
    if (r.endedAt) duration.observe({ task: r.taskId, status: r.status }, (r.endedAt - r.startedAt) / 1000);
  });
  engine.on('evaluationRound', (r) => {
    if (r.status === 'open') return;
    evaluationRounds.inc({ task: r.taskId, status: r.status });
    bytes.inc({ task: r.taskId, direction: 'down' }, r.bytesDown);
  });
  engine.on('evaluated', (e) => evaluation.observe({ task: e.taskId }, e.evaluationMs / 1000));
  engine.on('evaluationSkipped', (e) => skipped.inc({ task: e.taskId }));
  engine.on('rejected', (code) => rejected.inc({ code }));
  return registry;
}
