import {
  type MetricSpec,
  metricKey,
  type OperatorEvaluationRound,
  type OperatorRound,
  type OperatorTask,
} from '@pollen/fl-core';
import 'uplot/dist/uPlot.min.css';
import '../styles.css';
import { loadBaselines } from './baselines.ts';
import { createCharts, type PopulationSample } from './charts.ts';
import { LiveFeed } from './live.ts';
import { MetricCharts } from './metric-charts.ts';
import { EpsilonChart, type PrivacySpec } from './privacy-chart.ts';
import { drawRounds } from './rounds-table.ts';
import { compressionRatio, downloadCompressionRatio, formatBytes, heldOutTile, totals } from './stats.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const TOKEN_KEY = 'pollen-operator-token';
/** Population samples kept for the chart: about ten minutes at the coordinator's push rate. */
const POPULATION_SAMPLES = 2400;

/** What the dashboard knows of the watched task; everything comes from the live feed. */
const state = {
  task: null as OperatorTask | null,
  rounds: new Map<number, OperatorRound>(),
  /** Federated evaluation rounds by id (task `evaluation.federated`). */
  evaluations: new Map<number, OperatorEvaluationRound>(),
  population: [] as PopulationSample[],
  /** The watched task's privacy settings, from its public spec (GET /api/tasks/:id). */
  privacy: undefined as PrivacySpec | undefined,
};

/** The watched task's privacy settings and metric names, from its public spec (GET /api/tasks/:id). */
async function loadSpec(taskId: string): Promise<{ privacy?: PrivacySpec; metrics: string[] }> {
  const res = await fetch(`/api/tasks/${encodeURIComponent(taskId)}`);
  if (!res.ok) return { metrics: [] };
  const { spec } = (await res.json()) as { spec?: { privacy?: PrivacySpec; metrics?: MetricSpec[] } };
  return {
    ...(spec?.privacy ? { privacy: spec.privacy } : {}),
    metrics: (spec?.metrics ?? []).map(metricKey),
  };
}

function sortedRounds(): OperatorRound[] {
  return [...state.rounds.values()].sort((a, b) => a.roundId - b.roundId);
}

function sortedEvaluations(): OperatorEvaluationRound[] {
  return [...state.evaluations.values()].sort((a, b) => a.evaluationId - b.evaluationId);
}

function showLogin(message = ''): void {
  $('login').hidden = false;
  $('login-error').textContent = message;
  document.body.dataset.auth = 'required';
}

function drawTiles(rounds: readonly OperatorRound[], evaluations: readonly OperatorEvaluationRound[]): void {
  const task = state.task;
  if (!task) return;
  $('tile-status').textContent = task.status;
  $('tile-version').textContent = String(task.currentVersion);
  $('tile-connected').textContent = String(task.population.total);
  const backends = Object.entries(task.population.byBackend).map(([b, n]) => `${b} ${n}`);
  $('tile-backends').textContent =
    `${task.population.available} free to select, ${task.population.evaluating} evaluating; ${backends.join(', ') || 'no devices'}`;
  $('tile-heldout').textContent = heldOutTile(rounds, evaluations);
  const t = totals(rounds);
  $('tile-rounds').textContent = String(t.committed);
  $('tile-rounds-detail').textContent =
    `committed; ${t.abandoned} abandoned, ${t.deadlineHits} hit the deadline` +
    (task.round !== null ? `; round ${task.round} running` : '');
  $('tile-bytes').textContent = `${formatBytes(t.bytesUp)} / ${formatBytes(t.bytesDown)}`;
  const ratio = compressionRatio(rounds, task.dimension);
  const down = downloadCompressionRatio(rounds, task.dimension);
  const ratios = [
    ...(ratio === null ? [] : [`uploads ${ratio.toFixed(2)}x`]),
    ...(down === null ? [] : [`downloads ${down.toFixed(2)}x`]),
  ];
  $('tile-ratio').textContent =
    ratios.length === 0 ? 'nothing sent yet' : `${ratios.join(', ')} smaller than dense float32`;
  $<HTMLButtonElement>('resume').disabled = !['paused', 'stopped'].includes(task.status);
  $<HTMLButtonElement>('pause').disabled = task.status !== 'running';
}

async function main(): Promise<void> {
  const tasks = (await (await fetch('/api/tasks')).json()) as { id: string; name: string }[];
  const select = $<HTMLSelectElement>('task-select');
  for (const t of tasks) select.append(new Option(t.name, t.id));
  const wanted = new URLSearchParams(location.search).get('task');
  if (wanted && tasks.some((t) => t.id === wanted)) select.value = wanted;

  const charts = createCharts(document);
  const epsilon = new EpsilonChart($('epsilon-chart'), $('epsilon-note'), $('tile-epsilon'));
  const metricCharts = new MetricCharts($('metric-charts'));
  window.addEventListener('resize', () => {
    charts.resize();
    metricCharts.resize();
  });
  let pending = false;
  // Many events can arrive at once (a snapshot, a burst of pushes): draw once per frame.
  const redraw = (): void => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      const rounds = sortedRounds();
      const evaluations = sortedEvaluations();
      drawTiles(rounds, evaluations);
      charts.update({ rounds, population: state.population, dimension: state.task?.dimension ?? 0 });
      metricCharts.update(rounds, evaluations);
      epsilon.draw(rounds, state.privacy);
      drawRounds($('rounds'), rounds);
    });
  };
  const sample = (task: OperatorTask): void => {
    state.population.push({ t: Date.now(), ...task.population });
    if (state.population.length > POPULATION_SAMPLES) state.population.shift();
  };

  let feed: LiveFeed | null = null;
  const connect = (token: string): void => {
    feed?.close();
    feed = new LiveFeed(token, select.value, {
      snapshot: ({ task, rounds, evaluations }) => {
        $('login').hidden = true;
        document.body.dataset.auth = 'ok';
        if (state.task?.id !== task.id) {
          metricCharts.clear();
          state.population = [];
          state.privacy = undefined;
          // The task's own metrics and the baselines its held-out data is scored against.
          void Promise.all([loadSpec(task.id), loadBaselines(task.id, token)]).then(([spec, baselines]) => {
            if (state.task?.id !== task.id) return;
            state.privacy = spec.privacy;
            metricCharts.declare(spec.metrics, baselines);
            document.body.dataset.baselines = String(baselines.length);
            redraw();
          });
        }
        state.task = task;
        state.rounds = new Map(rounds.map((r) => [r.roundId, r]));
        state.evaluations = new Map(evaluations.map((e) => [e.evaluationId, e]));
        sample(task);
        redraw();
      },
      round: (round) => {
        state.rounds.set(round.roundId, round);
        redraw();
      },
      evaluation: (evaluation) => {
        state.evaluations.set(evaluation.evaluationId, evaluation);
        redraw();
      },
      task: (task) => {
        state.task = task;
        sample(task);
        redraw();
      },
      refused: (message) => {
        sessionStorage.removeItem(TOKEN_KEY);
        feed = null;
        showLogin(message);
      },
      connection: (live) => {
        $('feed').textContent = live ? 'live' : 'reconnecting';
        $('feed').className = live ? 'feed live' : 'feed';
        document.body.dataset.live = String(live);
      },
      error: (message) => {
        $('control-error').hidden = false;
        $('control-error').textContent = message;
      },
    });
  };

  $<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $<HTMLInputElement>('token').value.trim();
    $<HTMLInputElement>('token').value = '';
    sessionStorage.setItem(TOKEN_KEY, token);
    connect(token);
  });
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  $('resume').addEventListener('click', () => void feed?.control('start'));
  $('pause').addEventListener('click', () => void feed?.control('pause'));
  select.addEventListener('change', () => {
    const url = new URL(location.href);
    url.searchParams.set('task', select.value);
    history.replaceState(null, '', url);
    state.task = null;
    state.rounds.clear();
    state.evaluations.clear();
    state.population = [];
    feed?.watch(select.value);
  });

  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && select.value) connect(token);
  else showLogin();
}

void main();
