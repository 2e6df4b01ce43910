import {
  BACKENDS,
  type Backend,
  presentationOf,
  specSize,
  type TaskSpec,
  type WeightSpec,
} from '@pollen/fl-core';
import { type ClientStatus, createClient } from '../sdk/index.ts';
import '../styles.css';
import { showDevicePanel } from './device-panel.ts';
import { kib, plural } from './format.ts';
import { HistoryList } from './history.ts';
import { TryModel } from './try-model.ts';
import { DATA_CLEARED, mountWidget } from './widgets.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

const params = new URLSearchParams(location.search);
const requested = params.get('backend');
const backend = (BACKENDS as readonly string[]).includes(requested ?? '')
  ? (requested as Backend)
  : undefined;

/** What each state means, for a visitor. */
const STATUS_TEXT: Record<ClientStatus, string> = {
  idle: 'Not contributing',
  standby: 'On standby',
  starting: 'Starting',
  connecting: 'Connecting',
  waiting: 'Waiting to be picked for a round',
  training: 'Training',
  uploading: 'Sending the update',
  stopped: 'Paused',
};

async function main(): Promise<void> {
  const tasks = (await (await fetch('/api/tasks')).json()) as {
    id: string;
    name: string;
    description: string;
    owner: string;
  }[];
  const task = tasks.find((t) => t.id === params.get('task')) ?? tasks[0];
  if (!task) {
    $('status').textContent = 'The coordinator has no task to contribute to.';
    return;
  }
  $('task-name').textContent = task.name;
  $('task-description').textContent = task.description;
  $('task-owner').textContent = task.owner;

  const consent = $<HTMLInputElement>('consent');
  const background = $<HTMLInputElement>('background');
  const start = $<HTMLButtonElement>('start');
  const stop = $<HTMLButtonElement>('stop');
  const leave = $<HTMLButtonElement>('leave');
  const progress = $<HTMLProgressElement>('progress');
  const client = createClient({ task: task.id, backend, background: background.checked });
  const history = new HistoryList($<HTMLOListElement>('history'), $('history-empty'));
  let bytesSent = 0;
  let uploads = 0;
  let bytesReceived = 0;
  let downloads = 0;

  const refreshCount = async (): Promise<void> => {
    const counts = await client.exampleCounts();
    const total = counts.demo + counts.drawn + counts.entered + counts.host;
    $('examples').textContent = String(total);
    $('examples-word').textContent = total === 1 ? 'example' : 'examples';
    document.body.dataset.examples = String(total);
    const parts = [
      counts.demo && `${counts.demo} from the demo shard`,
      counts.drawn && `${counts.drawn} drawn here`,
      counts.entered && `${counts.entered} from what you entered here`,
      counts.host && `${counts.host} added by this site`,
    ].filter(Boolean);
    $('examples-detail').textContent = parts.length ? `(${parts.join(', ')})` : '';
  };
  await refreshCount();
  for (const entry of (await client.history()).slice(-50)) history.show(entry);

  const active = (): boolean => !['idle', 'stopped'].includes(client.status);
  const syncButtons = (): void => {
    start.disabled = !consent.checked || active();
    start.textContent = client.status === 'stopped' ? 'Resume' : 'Start contributing';
    stop.disabled = !active();
    leave.disabled = !active() && !consent.checked;
  };
  consent.addEventListener('change', syncButtons);
  syncButtons();
  background.addEventListener('change', () => client.setBackground(background.checked));
  start.addEventListener('click', async () => {
    if (!consent.checked) return;
    start.disabled = true;
    try {
      await client.start();
      await refreshCount();
    } catch (err) {
      $('status').textContent = `Could not start: ${(err as Error).message}`;
    }
  });
  stop.addEventListener('click', () => client.stop());
  leave.addEventListener('click', () => {
    client.stop();
    consent.checked = false;
    $('status').textContent = 'You left. Your examples stay in this browser until you delete them.';
    syncButtons();
  });
  $('clear').addEventListener('click', async () => {
    await client.clearExamples();
    await client.clearHistory();
    await client.clearDownloads();
    history.clear();
    document.dispatchEvent(new Event(DATA_CLEARED));
    await refreshCount();
  });
  showDevicePanel(client, {
    eligibility: $('eligibility'),
    share: $<HTMLInputElement>('cpu-share'),
    shareText: $('cpu-share-text'),
  });

  // The input widget and trying the model, by the task's presentation (widgets.ts).
  const { spec, weightSpec, modelWeightSpec } = (await (
    await fetch(`/api/tasks/${encodeURIComponent(task.id)}`)
  ).json()) as {
    spec: TaskSpec;
    weightSpec: WeightSpec;
    /** A fine-tuning task's whole model (what GET .../global serves); its rounds carry `weightSpec`. */
    modelWeightSpec?: WeightSpec;
  };
  const presentation = presentationOf(spec);
  const size = specSize(modelWeightSpec ?? weightSpec);
  const model = new TryModel(task.id, spec, size, backend ?? null, (message) => {
    $('try-version').textContent = message;
  });
  model.onVersion((version) => {
    $('try-version').textContent = `Using global model version ${version}.`;
    document.body.dataset.tryVersion = String(version);
  });
  client.on('roundEnd', (r) => r.status === 'committed' && void model.refresh());
  $('try').hidden = presentation.kind === 'none';
  await mountWidget(
    { client, card: $('widget'), tryOutput: $('try-output'), model, onExamples: refreshCount },
    presentation,
  );
  if (presentation.kind !== 'none') {
    model.enable();
    $('try-version').textContent = 'The model loads when you first try it.';
    // Reaching for the input starts loading, so the first prediction comes sooner.
    for (const type of ['focusin', 'pointerdown']) $('widget').addEventListener(type, () => model.wake());
  }

  client.on('status', ({ status, detail }) => {
    $('status').textContent = detail ? `${STATUS_TEXT[status]}: ${detail}` : STATUS_TEXT[status];
    document.body.dataset.status = status;
    const note = $('lock-note');
    note.hidden = status !== 'standby';
    note.textContent =
      'Another tab of this browser is already contributing, with the same examples and device id. ' +
      'This tab waits and takes over if that one stops or closes.';
    syncButtons();
  });
  client.on('backend', ({ backend: chosen, skipped }) => {
    $('backend').textContent = chosen;
    document.body.dataset.backend = chosen;
    $('backend-why').textContent = skipped.length
      ? `Skipped: ${skipped.map((s) => `${s.backend} (${s.reason})`).join('; ')}`
      : `${chosen} is the best backend this browser offers.`;
  });
  client.on('selected', ({ roundId, bytesDown }) => {
    bytesReceived += bytesDown;
    downloads++;
    document.body.dataset.bytesDown = String(bytesReceived);
    $('received').textContent =
      `${kib(bytesReceived)} of models in ${plural(downloads, 'round')} since this page opened`;
    progress.value = 0;
    $('progress-text').textContent = `Picked for round ${roundId}: loading the model.`;
  });
  // Compressed downloads: the model rebuilt from the kept one did not check out, the whole one came down too.
  client.on('refetched', ({ bytesDown }) => {
    bytesReceived += bytesDown;
    document.body.dataset.bytesDown = String(bytesReceived);
    $('received').textContent =
      `${kib(bytesReceived)} of models in ${plural(downloads, 'round')} since this page opened`;
  });
  client.on('progress', (p) => {
    progress.max = p.epochs * p.batches;
    progress.value = p.epoch * p.batches + p.batch;
    $('progress-text').textContent =
      `Round ${p.roundId}: epoch ${p.epoch + 1} of ${p.epochs}, batch ${p.batch} of ${p.batches}, loss ${p.loss.toFixed(4)}`;
  });
  client.on('uploaded', (u) => {
    bytesSent += u.bytes;
    uploads++;
    document.body.dataset.uploads = String(uploads);
    $('sent').textContent = `${kib(bytesSent)} in ${plural(uploads, 'round')} since this page opened`;
    if (u.epsilon != null) {
      $('epsilon').textContent =
        `the task's privacy loss is epsilon = ${u.epsilon.toFixed(2)} after this round`;
      $('epsilon').classList.remove('muted');
    } else {
      $('epsilon').textContent = 'this task adds no differential-privacy noise, so it accounts no epsilon';
    }
  });
  client.on('history', (entry) => history.show(entry));
  client.on('memory', (m) => {
    document.body.dataset.tensors = String(m.numTensors);
    document.body.dataset.tensorBytes = String(m.numBytes);
    $('memory').textContent =
      `Training worker: ${m.numTensors} tensors, ${kib(m.numBytes)} after round ${m.roundId}.`;
  });
  client.on('error', (e) => {
    $('progress-text').textContent = `Error ${e.code}: ${e.message}`;
  });
  document.body.dataset.ready = 'true';
}

main().catch((err: unknown) => {
  $('status').textContent = `Pollen failed to load: ${(err as Error).message}`;
});
