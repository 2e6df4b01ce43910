import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import '../styles.css';
import { EpsilonChart, type PrivacyRound, type PrivacySpec } from './privacy-chart.ts';

interface TaskSummary {
  id: string;
  name: string;
  status: string;
  currentVersion: number;
  population: { total: number; byBackend: Record<string, number> };
  spec?: { privacy?: PrivacySpec };
}

interface RoundRow extends PrivacyRound {
  roundId: number;
  status: string;
  selected: number;
  reported: number;
  dropped: number;
  accuracy: number | null;
  loss: number | null;
  backends: Record<string, number>;
  startedAt: number;
  endedAt: number | null;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const POLL_MS = 2000;
const TOKEN_KEY = 'pollen-operator-token';

class Unauthorized extends Error {}

/** Operator requests carry the token kept for this tab's session only. */
async function operatorFetch<T>(path: string, init: RequestInit = {}): Promise<T> {
  const token = sessionStorage.getItem(TOKEN_KEY) ?? '';
  const res = await fetch(path, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } });
  if (res.status === 401) throw new Unauthorized('the operator token was refused');
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

function showLogin(message = ''): void {
  $('login').hidden = false;
  $('login-error').textContent = message;
  document.body.dataset.auth = 'required';
}

let chart: uPlot | null = null;
let epsilonChart: EpsilonChart | null = null;

function drawChart(rounds: RoundRow[]): void {
  const committed = rounds.filter((r) => r.status === 'committed' && r.accuracy !== null);
  const data: uPlot.AlignedData = [committed.map((r) => r.roundId), committed.map((r) => r.accuracy!)];
  const el = $('accuracy-chart');
  if (!chart) {
    chart = new uPlot(
      {
        width: el.clientWidth || 600,
        height: 260,
        scales: { x: { time: false }, y: { range: [0, 1] } },
        axes: [{ label: 'round' }, { label: 'accuracy' }],
        series: [
          { label: 'round' },
          { label: 'held-out accuracy', stroke: '#c77d00', width: 2, points: { show: true } },
        ],
      },
      data,
      el,
    );
    window.addEventListener('resize', () => chart?.setSize({ width: el.clientWidth, height: 260 }));
  } else {
    chart.setData(data);
  }
}

function drawTable(rounds: RoundRow[]): void {
  const body = $('rounds');
  body.replaceChildren(
    ...rounds
      .slice()
      .reverse()
      .map((r) => {
        const tr = document.createElement('tr');
        tr.dataset.round = String(r.roundId);
        const cells = [
          String(r.roundId),
          r.status,
          String(r.selected),
          String(r.reported),
          r.status === 'open' ? '-' : String(r.dropped),
          r.accuracy === null ? '-' : r.accuracy.toFixed(4),
          r.loss === null ? '-' : r.loss.toFixed(4),
          Object.entries(r.backends)
            .map(([b, n]) => `${b} ${n}`)
            .join(', '),
          r.endedAt ? `${((r.endedAt - r.startedAt) / 1000).toFixed(1)} s` : 'running',
        ];
        for (const text of cells) {
          const td = document.createElement('td');
          td.textContent = text;
          tr.append(td);
        }
        tr.children[1]!.className = r.status;
        return tr;
      }),
  );
}

async function refresh(taskId: string): Promise<void> {
  const [task, rounds] = await Promise.all([
    fetch(`/api/tasks/${taskId}`).then((r) => r.json() as Promise<TaskSummary>),
    operatorFetch<RoundRow[]>(`/api/tasks/${taskId}/rounds`),
  ]);
  $('login').hidden = true;
  document.body.dataset.auth = 'ok';
  $('tile-status').textContent = task.status;
  $('tile-version').textContent = String(task.currentVersion);
  const backends = Object.entries(task.population.byBackend)
    .map(([b, n]) => `${b} ${n}`)
    .join(', ');
  $('tile-connected').textContent = `${task.population.total}${backends ? ` (${backends})` : ''}`;
  const last = rounds.filter((r) => r.status === 'committed').at(-1);
  $('tile-accuracy').textContent = last?.accuracy != null ? last.accuracy.toFixed(4) : '-';
  drawChart(rounds);
  epsilonChart ??= new EpsilonChart($('epsilon-chart'), $('epsilon-note'), $('tile-epsilon'));
  epsilonChart.draw(rounds, task.spec?.privacy);
  drawTable(rounds);
}

async function main(): Promise<void> {
  const tasks = (await (await fetch('/api/tasks')).json()) as TaskSummary[];
  const select = $<HTMLSelectElement>('task-select');
  for (const t of tasks) select.append(new Option(t.name, t.id));
  const params = new URLSearchParams(location.search);
  if (params.get('task')) select.value = params.get('task')!;
  $<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $<HTMLInputElement>('token').value.trim());
    $<HTMLInputElement>('token').value = '';
    void refresh(select.value).catch((err: unknown) => showLogin((err as Error).message));
  });
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  for (const [id, action] of [
    ['pause', 'pause'],
    ['resume', 'start'],
  ] as const) {
    $(id).addEventListener('click', () => {
      void operatorFetch(`/api/tasks/${select.value}/${action}`, { method: 'POST' })
        .then(() => refresh(select.value))
        .catch((err: unknown) => showLogin((err as Error).message));
    });
  }
  const tick = async (): Promise<void> => {
    try {
      if (select.value && sessionStorage.getItem(TOKEN_KEY)) await refresh(select.value);
      else showLogin();
    } catch (err) {
      if (err instanceof Unauthorized) showLogin(err.message);
    } finally {
      setTimeout(tick, POLL_MS);
    }
  };
  select.addEventListener('change', () => {
    chart?.destroy();
    chart = null;
    epsilonChart?.destroy();
    void refresh(select.value);
  });
  await tick();
}

void main();
