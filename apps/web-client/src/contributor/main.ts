import { BACKENDS, type Backend } from '@pollen/fl-core';
import { createClient } from '../sdk/index.ts';
import '../styles.css';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

const params = new URLSearchParams(location.search);
const requested = params.get('backend');
const backend = (BACKENDS as readonly string[]).includes(requested ?? '')
  ? (requested as Backend)
  : undefined;

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

  const client = createClient({
    task: task.id,
    backend,
    background: $<HTMLInputElement>('background').checked,
  });
  const consent = $<HTMLInputElement>('consent');
  const start = $<HTMLButtonElement>('start');
  const stop = $<HTMLButtonElement>('stop');
  const progress = $<HTMLProgressElement>('progress');
  let bytesSent = 0;
  let rounds = 0;

  const refreshCount = async (): Promise<void> => {
    $('examples').textContent = String(await client.countExamples());
  };
  await refreshCount();

  const syncStart = (): void => {
    start.disabled = !consent.checked || client.status !== 'idle';
  };
  consent.addEventListener('change', syncStart);
  syncStart();
  start.addEventListener('click', async () => {
    start.disabled = true;
    consent.disabled = true;
    stop.disabled = false;
    try {
      await client.start();
      await refreshCount();
    } catch (err) {
      $('status').textContent = `Could not start: ${(err as Error).message}`;
    }
  });
  stop.addEventListener('click', () => {
    client.stop();
    stop.disabled = true;
  });
  $('clear').addEventListener('click', async () => {
    await client.clearExamples();
    await refreshCount();
  });

  client.on('status', ({ status, detail }) => {
    $('status').textContent = detail ? `${status}: ${detail}` : status;
    document.body.dataset.status = status;
  });
  client.on('backend', ({ backend: chosen, skipped }) => {
    $('backend').textContent = chosen;
    document.body.dataset.backend = chosen;
    $('backend-why').textContent = skipped.length
      ? `Skipped: ${skipped.map((s) => `${s.backend} (${s.reason})`).join('; ')}`
      : `${chosen} is the best backend this browser offers.`;
  });
  client.on('progress', (p) => {
    progress.max = p.epochs * p.batches;
    progress.value = p.epoch * p.batches + p.batch;
    $('progress-text').textContent =
      `Round ${p.roundId}: epoch ${p.epoch + 1}/${p.epochs}, batch ${p.batch}/${p.batches}, loss ${p.loss.toFixed(4)}`;
  });
  client.on('uploaded', (u) => {
    bytesSent += u.bytes;
    rounds++;
    document.body.dataset.uploads = String(rounds);
    $('sent').textContent =
      `${(bytesSent / 1024).toFixed(1)} KiB in ${rounds} round${rounds === 1 ? '' : 's'}`;
    const item = document.createElement('li');
    item.textContent = `Round ${u.roundId}: trained on ${u.numExamples} examples in ${(u.trainMs / 1000).toFixed(1)} s, local accuracy ${(u.accuracy * 100).toFixed(1)}%, sent ${(u.bytes / 1024).toFixed(1)} KiB`;
    $('history').prepend(item);
  });
  client.on('roundEnd', (r) => {
    const item = document.createElement('li');
    item.className = r.status;
    item.textContent = `Round ${r.roundId} ${r.status}; model version ${r.modelVersion}`;
    $('history').prepend(item);
  });
  client.on('error', (e) => {
    $('progress-text').textContent = `Error ${e.code}: ${e.message}`;
  });
  document.body.dataset.ready = 'true';
}

main().catch((err: unknown) => {
  $('status').textContent = `Pollen failed to load: ${(err as Error).message}`;
});
